"""Every file or folder an option names, checked the same way before anything reads it.

A device (`/dev/zero`), a FIFO or a socket would make a reader wait or read for ever; a folder
where a file is expected, an empty file or one far larger than what it holds is the wrong
file. Each is refused in one line (exit 2), naming the path and what the option holds.
`check_settings` checks all of a command's files at once, before it writes anything; each
reader checks its own file again through `checked` (the same rule for library callers).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dp4kit.errors import Dp4kitError, InputFileError, ProfileError, SchemaFileError

MiB = 1 << 20
FILE, FOLDER, EITHER = "file", "folder", "file or folder"


@dataclass(frozen=True)
class Holds:
    """What an option's path holds: its name in messages, file or folder, the largest size."""

    what: str  # "the K3 model": the words in an error line
    kind: str = FILE
    limit: int | None = None  # most bytes a file may have (None: any size)
    error: type[Dp4kitError] = InputFileError
    written: bool = False  # a file written to (a log): missing, a device, any size are fine


K3_MODEL = Holds("K3 model", limit=MiB)  # about 6 KB: m and u per comparison level
DECISIONS = Holds("decisions file", limit=256 * MiB)  # a few hundred thousand pairs
EXCLUSION = Holds("exclusion list", limit=64 * MiB)  # about 3.7 million NIKs
MAPPING = Holds("mapping file", limit=MiB, error=ProfileError)  # a few dozen columns
SCHEMA = Holds("schema file", limit=MiB, error=SchemaFileError)  # a few dozen checks
MANIFEST = Holds("manifest", limit=64 * MiB)  # a national run lists a few thousand files
RUN_FOLDER = Holds("export folder", kind=FOLDER)
LOG_FILE = Holds("log file", written=True)
INPUT = Holds("input", kind=EITHER)  # CSV and Parquet: any size (--memory-limit streams them)
XLSX_INPUT = Holds("input", limit=1024 * MiB)  # read whole; Excel holds 1,048,576 rows a sheet
XLSX_SUFFIXES = (".xlsx", ".xlsm")

_ODD = {stat.S_ISCHR: "a device", stat.S_ISBLK: "a device", stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISSOCK: "a socket"}  # fmt: skip


def input_holds(path: Path) -> Holds:
    """An input (or --keluarga): an Excel workbook is read whole, so it has a size limit."""
    return XLSX_INPUT if Path(path).suffix.lower() in XLSX_SUFFIXES else INPUT


def checked(path: Path | str, holds: Holds) -> Path:
    """`path` if it is what `holds` expects (a regular, readable, non-empty file within the
    limit, or a readable folder); else `holds.error` with one line."""
    path = Path(path)
    if holds.written:
        return _writable(path, holds)
    error, what = holds.error, holds.what
    try:
        mode = path.stat()  # follows links: what a reader would open
    except FileNotFoundError:
        raise error(f"{path}: cannot read the {what}: no such {holds.kind}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode.st_mode):
        if holds.kind == FILE:
            raise error(f"{path}: the {what} must be a file, not a folder")
        if not os.access(path, os.R_OK | os.X_OK):
            raise error(f"{path}: cannot read the {what}: permission denied")
        return path
    odd = next((name for test, name in _ODD.items() if test(mode.st_mode)), None)
    if odd is not None:
        raise error(f"{path}: the {what} is {odd}, not a {holds.kind}")
    if holds.kind == FOLDER:
        raise error(f"{path}: the {what} must be a folder, not a file")
    if mode.st_size == 0:
        raise error(f"{path}: the {what} is empty (0 bytes); is this the right file?")
    if holds.limit is not None and mode.st_size > holds.limit:
        raise error(f"{path}: the {what} has {mode.st_size:,} bytes, more than the "
                    f"{holds.limit:,} it may have; is this the right file?")  # fmt: skip
    if not os.access(path, os.R_OK):
        raise error(f"{path}: cannot read the {what}: permission denied")
    return path


def _writable(path: Path, holds: Holds) -> Path:
    """A file written to: not a folder, and a FIFO only while something reads it (opening
    one that nobody reads would wait for ever). Other failures are the writer's to report."""
    if path.is_dir():
        raise holds.error(f"{path}: the {holds.what} must be a file, not a folder")
    if path.is_fifo():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            raise holds.error(f"{path}: the {holds.what} is a FIFO (named pipe) that nothing "
                              "reads") from None  # fmt: skip
    return path


def read_small_text(path: Path | str, holds: Holds) -> str:
    """A small text file (a list, a mapping, a job file) as text, once `checked`; one line if
    it cannot be read or is not UTF-8."""
    path = checked(path, holds)
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or f"not UTF-8 text ({exc.reason})"
        raise holds.error(f"{path}: cannot read the {holds.what}: {reason}") from exc


def read_k3_model(path: Path | str):
    """`--k3-model`: a saved k3_model.json as a `dedup.model.Model`."""
    from dp4kit.dedup.model import model_of_json

    return model_of_json(read_small_text(path, K3_MODEL), str(path))


def read_decisions(path: Path | str):
    """`--decisions`: a filled-in duplicates.xlsx or a CSV of NIK pairs, as
    `dedup.decisions.Decisions`."""
    import pandas as pd

    from dp4kit.dedup.decisions import decisions_of_frame, decisions_of_sheets

    path = checked(path, DECISIONS)
    try:
        if path.suffix.lower() == ".xlsx":
            sheets = pd.read_excel(path, dtype="string", engine="calamine", sheet_name=None,
                                   header=None)  # fmt: skip
        else:
            frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    except (OSError, ValueError, ImportError) as exc:
        raise InputFileError(f"{path}: cannot read the decisions: {exc}") from exc
    if path.suffix.lower() == ".xlsx":
        return decisions_of_sheets(sheets, path)
    return decisions_of_frame(frame, path)


def mapping_file(profile: str) -> Path | None:
    """The mapping file a profile names (`--profile FILE.toml`), or None for a built-in one."""
    path = Path(profile)
    return path if path.suffix.lower() == ".toml" else None


def read_files(inputs: Iterable[Path], keluarga: Path | None = None, profile: str = "auto",
               schema: Iterable[Path] = ()) -> list[tuple[Path | None, Holds]]:  # fmt: skip
    """What `validate` (and every command that reads inputs) reads: the inputs, the family
    file, a mapping file and office schemas, each with what it holds."""
    return [*((path, input_holds(path)) for path in inputs),
            (keluarga, input_holds(keluarga or "")), (mapping_file(profile), MAPPING),
            *((path, SCHEMA) for path in schema)]  # fmt: skip


def check_all(named: Iterable[tuple[Path | None, Holds]]) -> None:
    """Each named path `checked` (None: the option was not given)."""
    for path, holds in named:
        if path is not None:
            checked(path, holds)


def check_settings(settings, inputs: Iterable[Path] | None = None) -> None:
    """Every file the settings name (the inputs, or `inputs` in their place), checked before
    a command reads or writes anything. `settings` is a `config.Settings`."""
    inputs = settings.inputs if inputs is None else inputs
    check_all([*read_files(inputs, settings.keluarga, settings.profile, settings.schema),
               (settings.exclude_nik, EXCLUSION), (settings.k3_model, K3_MODEL),
               (settings.decisions, DECISIONS), (settings.log_file, LOG_FILE)])  # fmt: skip


def revoked_niks(path: Path | None) -> list[str]:
    """The NIKs of `--exclude-nik` (revoked voters), or none."""
    from dp4kit.rules.eligibility import read_nik_list

    if path is None:
        return []
    return read_nik_list(read_small_text(path, EXCLUSION))
