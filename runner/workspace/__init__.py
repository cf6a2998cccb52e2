"""Workspaces: where a session's files come from, and how they get in without reaching the host.

A session's workspace has one source (``source.py``): a host directory under the
server's roots, an uploaded archive, a git repository, or (for pipelines) the copy an
earlier session left. Everything that touches the host here works by file descriptor,
never by following a path twice:

    confine.py   which host paths a caller may name (roots, protected paths)
    fstree.py    opening directories and files without following symlinks
    limits.py    byte and file caps, cancellation and progress, checked while copying
    copier.py    the bounded copy of a directory tree
    archive.py   checking and extracting tar / tar.gz / zip uploads
    git.py       the controller-side shallow clone
    uploads.py   uploaded archives waiting to be used (tenant-scoped, expiring)

This package imports nothing above ``runner.core``/``runner.errors``: the sandbox and
session layers use it.
"""
