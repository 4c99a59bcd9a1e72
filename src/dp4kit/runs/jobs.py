"""`dp4kit run`: an unattended export into a dated folder, locked, logged and pruned.

Layout of the output root: `<root>/2024-11-27T021500/` per run (written atomically),
`<root>/latest` (a symlink to the newest complete run) and `<root>/.dp4kit.lock` while a run
is writing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from dp4kit.config import Settings
from dp4kit.errors import Dp4kitError, OutputError
from dp4kit.outputs.files import clean_leftovers
from dp4kit.outputs.manifest import Manifest
from dp4kit.outputs.privacy import private_files
from dp4kit.runs.locking import LockError, output_lock
from dp4kit.runs.logs import event

RUN_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{6}(-\d+)?$")
LOCK_NAME = ".dp4kit.lock"


@dataclass
class RunResult:
    run_dir: Path
    manifest: Manifest
    exit_code: int
    pruned: list[Path] = field(default_factory=list)


def _run_dir(root: Path, now: dt.datetime) -> Path:
    name = now.strftime("%Y-%m-%dT%H%M%S")
    candidate, k = root / name, 2
    while candidate.exists():
        candidate, k = root / f"{name}-{k}", k + 1
    return candidate


def dated_runs(root: Path) -> list[Path]:
    """Complete dated runs in root, oldest first by completion (the manifest is written
    last), not by name: a clock or time-zone change must not make a new run look old."""
    if not root.is_dir():
        return []
    runs = [
        p
        for p in root.iterdir()
        if p.is_dir() and not p.is_symlink() and RUN_NAME.match(p.name)
        and (p / "manifest.json").is_file()
    ]  # fmt: skip
    return sorted(runs, key=lambda p: ((p / "manifest.json").stat().st_mtime_ns, p.name))


def prune(root: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` dated runs (keep = 0: remove none). The run that
    `latest` points to is never removed."""
    runs = dated_runs(root)
    latest = root / "latest"
    current = latest.resolve() if latest.is_symlink() else None
    old = runs[:-keep] if keep and len(runs) > keep else []
    old = [p for p in old if p.resolve() != current]
    for path in old:
        shutil.rmtree(path)
    return old


def _clean_root(root: Path) -> list[str]:
    """What killed runs left in the root: work folders, `latest` links half made, and the
    lock files of their dated folders. Called with the root's lock held."""
    done = clean_leftovers(root)
    for path in sorted(root.glob(".*.lock")):
        name = path.name[1 : -len(".lock")]
        if RUN_NAME.match(name) and not path.is_symlink():
            with contextlib.suppress(LockError, OutputError), output_lock(path):
                done.append(f"removed {path.name} left by an interrupted run")
    return done


def _point_latest(root: Path, run_dir: Path) -> None:
    """`latest` -> the new run, replaced atomically (rename over the old link)."""
    tmp = root / f".latest.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, root / "latest")


def exit_code_of(manifest: Manifest, max_rejected_share: float) -> int:
    """0 fine; 1 when more than the allowed share of rows was rejected, or rows are held."""
    return int(manifest.rejected_share() > max_rejected_share or manifest.counts.held > 0)


def run_job(settings: Settings, logger: logging.Logger,
            now: dt.datetime | None = None) -> RunResult:  # fmt: skip
    """Run one export as the settings say; every step is logged (counts and timings only)."""
    from dp4kit.export.whole import export

    root = Path(settings.out)
    started = mark = time.perf_counter()

    def on_stage(name: str) -> None:
        nonlocal mark
        now_ = time.perf_counter()
        event(logger, f"{name} done", stage=name, elapsed=round(now_ - mark, 3))
        mark = now_

    names = ", ".join(Path(p).name for p in settings.inputs)
    event(logger, f"run started: {len(settings.inputs)} input file(s) ({names}) -> {root}",
          stage="start")  # fmt: skip
    with private_files(settings.group_readable), output_lock(root / LOCK_NAME) as stale:
        if stale.get("pid"):
            event(logger, f"took over a stale lock left by pid {stale['pid']}",
                  level=logging.WARNING, stage="lock")  # fmt: skip
        for done in _clean_root(root):
            event(logger, done, level=logging.WARNING, stage="lock")
        run_dir = _run_dir(root, now or dt.datetime.now())
        result = export(settings.inputs, run_dir, settings, on_stage)
        try:
            _point_latest(root, run_dir)
            pruned = prune(root, settings.keep)
        except OSError as exc:
            raise OutputError(f"{root}: the run is written, but updating latest or pruning "
                              f"failed: {exc.strerror or exc}") from exc  # fmt: skip
    for path in pruned:
        event(logger, f"pruned old run {path.name}", stage="prune")
    manifest = result.manifest
    code = exit_code_of(manifest, settings.max_rejected_share)
    counts = manifest.counts.rows()
    counts["review"] = manifest.review_rows
    summary = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    event(logger, f"run finished -> {run_dir}: {summary}", stage="finish",
          level=logging.WARNING if code else logging.INFO, counts=counts,
          elapsed=round(time.perf_counter() - started, 3))  # fmt: skip
    if code:
        reasons = ", ".join(f"{k} {v:,}" for k, v in manifest.rejected_by_rule.items())
        event(logger, f"attention: {counts['rejected']:,} rejected ({reasons}), "
              f"{counts['held']:,} held for a decision", level=logging.WARNING,
              stage="finish", counts=counts)  # fmt: skip
    from dp4kit.cli.render import export_next

    event(logger, export_next(manifest, run_dir, code), stage="finish")
    return RunResult(run_dir, manifest, code, pruned)


def log_failure(logger: logging.Logger, exc: Dp4kitError) -> None:
    """Log why the run failed; if the log file itself fails, say so on the terminal too."""
    try:
        event(logger, str(exc), level=logging.ERROR, stage="error")
    except OutputError as broken:  # the log file's handler is gone now
        event(logger, str(broken), level=logging.ERROR, stage="error")
        event(logger, str(exc), level=logging.ERROR, stage="error")
