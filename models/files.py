"""Files written whole or not at all, with the permissions the user's umask asks for.

``tempfile.mkstemp`` creates files readable by their owner only (mode 0600) whatever the
umask, so a result written through a temporary file and ``os.replace`` would end up
private even where the user shares results with a group.  :func:`atomic_write` gives the
temporary file ``0666 & ~umask`` (what ``open(path, "w")`` would give) before the rename.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "current_umask", "follow_umask", "fsync_directory"]


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux ``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # Elsewhere the only portable read is set-and-restore (not thread-safe, but brief).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: str | os.PathLike) -> None:
    """Give ``path`` the mode a plain ``open(path, "w")`` would have given it (``0666 & ~umask``)."""
    os.chmod(path, 0o666 & ~current_umask())


def fsync_directory(directory: str | os.PathLike) -> None:
    """Flush a directory entry (a rename) to disk where the platform supports it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    Readers see the old file or the complete new one, never a half-written one; the
    temporary file is removed if ``write`` fails (or the process is interrupted in Python).

    Parameters
    ----------
    path : path
        Destination; its directory is created if needed.
    write : callable
        ``write(tmp_path)`` writes the whole content to ``tmp_path`` (which exists, empty).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:  # the writer may not have flushed to disk
            os.fsync(fh.fileno())
        follow_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
