"""The per-session gateway: the only way out of a sandbox (model relay, policy hook answers)."""
