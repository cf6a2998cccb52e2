"""Sandboxes: the ``SandboxBackend`` protocol, its adapters, the images and session dirs."""
