"""The stand-in "sandbox container" of the local kubelet: a TTY program that says hello,
then reports its terminal size, and again whenever it changes (as tmux repaints)."""

import os
import signal
import sys
import time
from pathlib import Path


def _size(*_args: object) -> None:
    cols, rows = os.get_terminal_size(sys.stdout.fileno())
    sys.stdout.write(f"size {cols}x{rows}\r\n")
    sys.stdout.flush()


signal.signal(signal.SIGWINCH, _size)
# As the real entrypoint does: nothing is shown before the controller says start.
while not Path(os.environ["WARDEN_START_FILE"]).exists():
    time.sleep(0.02)
sys.stdout.write(f"hello from the pod, token {os.environ['ANTHROPIC_API_KEY'][:8]}\r\n")
sys.stdout.flush()
_size()  # the size it starts with, as tmux draws at the size it finds
while True:
    time.sleep(1)
