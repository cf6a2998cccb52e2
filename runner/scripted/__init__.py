"""The scripted model: an offline Anthropic Messages API for tests and demos, never production.

``ScriptedModelServer`` plays ``[[directive: ...]]`` steps found in the prompt (or a YAML
script) as real streamed replies, so the real Claude Code CLI can be driven end to end
with no model and no network. ``WARDEN_MODEL_UPSTREAM=scripted`` runs it in-process.
"""
