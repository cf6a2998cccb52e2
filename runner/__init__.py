"""Warden: the controller that runs Claude Code in hardened sandboxes."""

__version__ = "0.1.0"
