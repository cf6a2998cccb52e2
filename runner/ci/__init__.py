"""Policy-gated CI runs (``warden run``) and the pipeline stages built on them.

One run: create an unattended session, follow it to an outcome, collect what it left
behind (patch, transcript, recording, audit bundle), and report it (``summary.md``,
``junit.xml``, the exit code).
"""
