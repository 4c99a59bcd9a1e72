"""`dp4kit verify DIR`: does an output folder still match its manifest?

Recomputes every output's SHA-256, re-counts the Parquet rows and re-checks the accounting
(input rows = dp4 + excluded + rejected + removed + held) from the files themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dp4kit.io.sources import file_sha256
from dp4kit.outputs.manifest import MANIFEST_NAME, Manifest, OutputFile


@dataclass
class VerifyResult:
    folder: Path
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return int(bool(self.problems))

    def to_dict(self) -> dict:
        return {"folder": str(self.folder), "files_checked": self.files_checked,
                "ok": not self.problems, "problems": self.problems}  # fmt: skip


def _inside(folder: Path, rel: str) -> bool:
    """A manifest path names a file inside the folder: relative, no `..`, no links out."""
    pure = Path(rel)
    if not rel or pure.is_absolute() or ".." in pure.parts or "\x00" in rel:
        return False
    try:
        return (folder / pure).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False


def _present(folder: Path) -> tuple[set[str], list[str]]:
    """Regular files below folder (links not followed), and every other kind of entry."""
    files, odd = set(), []
    for top, dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(dirs + names):
            path = Path(top) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                odd.append(f"unexpected link: {rel}")
            elif path.is_file():
                files.add(rel)
            elif not path.is_dir():
                odd.append(f"unexpected special file: {rel}")
    return files, odd


def _parquet_rows(path: Path) -> int | None:
    try:
        return pq.read_metadata(path).num_rows
    except Exception:  # noqa: BLE001 - a damaged file is reported by its checksum already
        return None


def verify(folder: Path) -> VerifyResult:
    """Every problem found, in a stable order; an empty list means the folder is intact."""
    folder = Path(folder)
    manifest = Manifest.read(folder)
    result = VerifyResult(folder)
    listed = set()
    intact: dict[str, OutputFile] = {}
    for out in manifest.outputs:
        rel = out.path
        listed.add(rel)
        path = folder / rel
        result.files_checked += 1
        if not _inside(folder, rel):
            result.problems.append(f"outside the folder: {rel!r} (not read)")
            continue
        if path.is_symlink() or (path.exists() and not path.is_file()):
            result.problems.append(f"not a regular file: {rel}")
            continue
        if not path.is_file():
            result.problems.append(f"missing: {rel}")
            continue
        if file_sha256(path) != out.sha256:
            result.problems.append(f"changed: {rel} (checksum differs from the manifest)")
            continue
        if rel.endswith(".parquet") and _parquet_rows(path) != out.rows:
            result.problems.append(f"changed: {rel} (row count differs from the manifest)")
            continue
        intact[rel] = out
    present, odd = _present(folder)
    for rel in sorted(present - listed - {MANIFEST_NAME}):
        result.problems.append(f"unexpected file: {rel}")
    result.problems += [p for p in odd if p.split(": ", 1)[1] not in listed]
    result.problems += _accounting(folder, manifest, intact)
    return result


def _accounting(folder: Path, manifest: Manifest, intact: dict[str, OutputFile]) -> list[str]:
    counts = manifest.counts
    problems = []
    if not counts.adds_up():
        problems.append("accounting: input_rows != dp4 + excluded + rejected + removed + held")
    inputs = manifest.inputs
    if inputs and sum(i.rows for i in inputs) != counts.input_rows:
        problems.append("accounting: the inputs' rows do not add up to counts.input_rows")
    parts = [o for o in manifest.outputs if o.path.startswith("dp4/")]
    if parts and sum(o.rows for o in parts) != counts.dp4:
        problems.append("accounting: the dp4/ files do not hold counts.dp4 rows")
    for term in ("excluded", "rejected"):
        out = intact.get(f"{term}.parquet")
        if out is not None and out.rows != getattr(counts, term):
            problems.append(f"accounting: {term}.parquet does not hold counts.{term} rows")
    if "duplicates.parquet" in intact:
        try:
            action = pq.read_table(folder / "duplicates.parquet", columns=["action"])["action"]
        except (OSError, pa.ArrowException, KeyError):
            return [*problems, "changed: duplicates.parquet has no readable 'action' column"]
        for term in ("removed", "held"):
            found = pc.sum(pc.equal(action, term)).as_py() or 0
            if found != getattr(counts, term):
                problems.append(f"accounting: duplicates.parquet has {found} '{term}' rows, "
                                f"counts.{term} is {getattr(counts, term)}")  # fmt: skip
    return problems
