"""What the agent's terminal shows: screen emulation, state classification, recordings.

Public surface: ``Detector`` (feed bytes, read ``state``), ``classify`` (lines or a
``TerminalScreen`` -> ``ScreenState``), ``CastWriter`` / ``open_recording`` (asciicast
v2 and raw streams), ``replay_file`` / ``replay_pane``, and ``State``.
"""
