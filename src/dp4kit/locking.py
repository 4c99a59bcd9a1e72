"""One writer per output folder: an advisory lock file (flock) holding the writer's pid.

The kernel releases the lock when its process dies, so a lock file left by a crashed run is
simply taken over (and reported). Works on local Linux/macOS file systems.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from dp4kit.errors import Dp4kitError, OutputError


class LockError(Dp4kitError):
    """Another run holds the output folder's lock (exit 2)."""


def _holder(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[dict]:
    """Hold the lock at `path` for the block. Yields the stale holder's details ({} if none).
    Raises LockError if a live process holds it."""
    path = Path(path)
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{path}: cannot create the lock: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since " \
                  f"{holder.get('started', '?')}"  # fmt: skip
            raise LockError(
                f"{path.parent}: another dp4kit run ({who}) is writing here; "
                "wait for it to finish or choose another output folder"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the file was removed by the previous holder meanwhile: try again
    stale = _holder(fd)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": dt.datetime.now().astimezone().isoformat(timespec="seconds")}  # fmt: skip
    os.write(fd, json.dumps(me).encode())
    try:
        yield stale
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
