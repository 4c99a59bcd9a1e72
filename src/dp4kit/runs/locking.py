"""One writer per output folder: an advisory lock file (flock) holding the writer's pid.

The kernel releases the lock when its process dies, so a lock file left by a crashed run is
simply taken over (and reported). Forked workers close the lock descriptor and die with their
parent; a lock still held by orphans of a dead run (recorded pid gone, same host) is broken
and taken over. Works on local Linux/macOS file systems.
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


_HELD: set[int] = set()  # lock descriptors this process holds (forked children close them)


def pid_alive(pid: int) -> bool:
    """True unless `pid` is certainly gone on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _holder(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096).decode() or "{}")
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


def _dead(holder: dict) -> bool:
    """The recorded holder ran on this machine and has exited: whoever still holds the lock
    (a worker it forked, orphaned by a kill -9) is not a dp4kit run any more."""
    pid = holder.get("pid")
    return (
        isinstance(pid, int)
        and holder.get("host") == socket.gethostname()
        and pid != os.getpid()
        and not pid_alive(pid)
    )


def _describe(holder: dict) -> str:
    return (
        f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
        f"since {holder.get('started', '?')}"
    )


def _acquire(path: Path) -> tuple[int, dict]:
    """Open and flock the lock file; returns the descriptor and the stale holder ({} if none).
    Called with the folder's guard held, so no other dp4kit process changes the file meanwhile."""
    broken: dict = {}
    for _ in range(3):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not _dead(holder):
                os.close(fd)
                raise LockError(
                    f"{path.parent}: another dp4kit run ({_describe(holder)}) is writing here; "
                    "wait for it to finish or choose another output folder"
                ) from None
            # its orphans keep the old file locked: take the name over with a new file
            with contextlib.suppress(FileNotFoundError):
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    path.unlink()
            os.close(fd)
            broken = holder
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, broken or _holder(fd)
        os.close(fd)  # the file was removed by the previous holder meanwhile: try again
    raise LockError(f"{path}: cannot take the lock (it keeps changing); try again")


@contextlib.contextmanager
def _guard(folder: Path) -> Iterator[None]:
    """A short flock on the folder itself, held while a lock is taken or broken, so that two
    runs never both decide to take over the same stale lock."""
    fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[dict]:
    """Hold the lock at `path` for the block. Yields the stale holder's details ({} if none).
    Raises LockError if a live process holds it. A lock still held only by the orphaned workers
    of a dead run is taken over."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _guard(path.parent):
            fd, stale = _acquire(path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the lock: {exc.strerror or exc}") from exc
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": dt.datetime.now().astimezone().isoformat(timespec="seconds")}  # fmt: skip
    os.write(fd, json.dumps(me).encode())
    _HELD.add(fd)
    try:
        yield stale if stale.get("pid") != os.getpid() else {}
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        _HELD.discard(fd)
        os.close(fd)


def forked_worker_started(parent: int) -> None:
    """Initializer for worker processes (forked Excel writers, spawned `export --each`
    exports): drop the parent's lock descriptors (a worker must never keep an output folder
    locked) and die with the parent (Linux), so a kill -9 of the run leaves no orphan writing
    personal data."""
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
