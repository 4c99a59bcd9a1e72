"""Files and folders written atomically: a kill at any moment leaves the previous output."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds.
    The file is created 0600 (mkstemp): reports and job files may hold personal data."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def work_folder(out_dir: Path) -> Path:
    """The hidden folder an output is written into before it is swapped in as out_dir."""
    return out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"


def replace_folder(tmp: Path, out_dir: Path, marker: str, what: str) -> None:
    """Swap a finished folder in; the previous one (if any) is removed only afterwards.
    An existing non-empty folder without `marker` is not ours: refuse to replace it."""
    from dp4kit.errors import OutputError

    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        if not (out_dir / marker).exists() and any(out_dir.iterdir()):
            raise OutputError(f"{out_dir}: exists and is not a dp4kit {what}; choose another --out")
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)$")


def clean_leftovers(folder: Path, name: str | None = None) -> list[str]:
    """Remove what killed runs left in `folder`: work folders (`.NAME.tmp-PID`, full of
    personal data) and previous outputs set aside (`.NAME.old-PID`) of processes that are
    gone. A previous output whose replacement never arrived is put back instead. Call it
    with the folder's lock held. `name` limits it to one output. Returns what it did."""
    from dp4kit.runs.locking import pid_alive

    done = []
    if not folder.is_dir():
        return done
    for entry in sorted(folder.iterdir()):
        found = LEFTOVER.match(entry.name)
        if not found or (name is not None and found["name"] != name):
            continue
        pid = int(found["pid"])
        if pid == os.getpid() or pid_alive(pid):
            continue
        target = folder / found["name"]
        folder_kind = entry.is_dir() and not entry.is_symlink()
        if found["kind"] == "old" and folder_kind and not target.exists():
            entry.rename(target)
            done.append(f"restored {target.name} from an interrupted run")
            continue
        if folder_kind:
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        done.append(f"removed {entry.name} left by an interrupted run")
    return done


@contextlib.contextmanager
def written_folder(out_dir: Path, what: str, marker: str = "manifest.json",
                   group_readable: bool = False) -> Iterator[Path]:  # fmt: skip
    """An empty work folder to write an output into. Under out_dir's lock, with private file
    modes, after cleaning what killed runs left; when the block succeeds the work folder
    replaces out_dir (whose `marker` file says it is a dp4kit output). A write failure is one
    OutputError; the work folder never stays behind."""
    from dp4kit.errors import WRITE_ERRORS, OutputError, write_failure
    from dp4kit.outputs.privacy import private_files
    from dp4kit.runs.locking import output_lock

    out_dir = Path(out_dir)
    tmp = work_folder(out_dir)
    try:
        with private_files(group_readable), output_lock(out_dir.parent / f".{out_dir.name}.lock"):
            for done in clean_leftovers(out_dir.parent, out_dir.name):
                log.warning("%s", done)
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
            yield tmp
            replace_folder(tmp, out_dir, marker, what)
    except WRITE_ERRORS as exc:
        raise OutputError(f"{out_dir}: cannot write the {what}: {write_failure(exc)}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
