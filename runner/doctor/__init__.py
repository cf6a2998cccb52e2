"""``warden doctor``: independent checks of whether this machine can run sessions.

Each check is a function ``(Probe) -> Result`` in ``checks.CHECKS``; adding one is adding
a function to that list. A check that depends on another's subject (the image needs the
Docker engine) reports itself *skipped* when that is missing, so the cause is named
once. Checks have no side effects: no directory, database file or image is created.
"""
