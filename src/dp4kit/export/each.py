"""`dp4kit export --each`: every input exported on its own into OUT/<its name>, a few at a time
on this machine or as Spark tasks on a cluster. The regency is the unit one machine holds
(`split` makes one part per kab/kota); `combine` then joins the runs. Each run is the export
that `dp4kit export INPUT --out OUT/<name>` makes, byte for byte, wherever it ran."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from dp4kit.config import Settings
from dp4kit.errors import Dp4kitError, OutputError, UsageError
from dp4kit.io.given_files import check_settings
from dp4kit.outputs.manifest import Counts
from dp4kit.runs.locking import forked_worker_started


@dataclass
class RunOutcome:
    """One input's export: its run folder and counts, or the one-line error it stopped on."""

    name: str
    out_dir: str
    exit_code: int
    counts: Counts | None = None
    error: str | None = None


@dataclass
class EachResult:
    out_dir: Path
    runs: list[RunOutcome]

    @property
    def exit_code(self) -> int:
        """The worst of the runs' exit codes (0 done; 1 rows rejected or held; 2, 3 failed)."""
        return max(run.exit_code for run in self.runs)


def run_names(paths: Sequence[Path]) -> list[str]:
    """Each input's run folder name: its file name less the suffix (32.04.parquet → 32.04)."""
    names = [Path(p).name.removesuffix(Path(p).suffix) or Path(p).name for p in paths]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"--each: two inputs would be written to one run folder: "
                         f"{', '.join(twice)}; give inputs with different names")  # fmt: skip
    return names


def export_one(task: tuple[str, str, str, Settings]) -> RunOutcome:
    """One input's export (in a worker process or a Spark task): never raises a dp4kit error,
    which is returned as the outcome's one line."""
    from dp4kit.export.whole import export

    name, path, out, settings = task
    try:
        result = export([Path(path)], Path(out), settings)
    except Dp4kitError as exc:
        return RunOutcome(name, out, exc.exit_code, error=str(exc))
    return RunOutcome(name, out, result.exit_code, result.manifest.counts)


def export_each(paths: Sequence[Path], out_dir: Path, settings: Settings, jobs: int = 1,
                spark_master: str | None = None,
                on_done: Callable[[RunOutcome], None] | None = None) -> EachResult:  # fmt: skip
    """Export every input on its own into out_dir/<name>: `jobs` at a time in worker
    processes (the largest inputs first), or as Spark tasks on `spark_master`."""
    if jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    paths = [Path(p) for p in paths]
    check_settings(settings, paths)
    names = run_names(paths)
    out_dir = Path(out_dir)
    if (out_dir / "manifest.json").exists():
        raise UsageError(f"{out_dir}: is an export; --each writes a folder of runs, one per "
                         "input: choose another --out")  # fmt: skip
    try:
        out_dir.mkdir(mode=0o750 if settings.group_readable else 0o700, parents=True,
                      exist_ok=True)  # fmt: skip
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot make the folder of runs: "
                          f"{exc.strerror or exc}") from exc  # fmt: skip
    tasks = [(n, str(p), str(out_dir / n), settings) for n, p in zip(names, paths, strict=True)]
    tasks.sort(key=lambda t: -_size(Path(t[1])))  # the largest first: no long tail
    report = on_done or (lambda outcome: None)
    if spark_master is not None:
        outcomes = _on_spark(tasks, spark_master)
        for outcome in outcomes:
            report(outcome)
    elif jobs == 1 or len(tasks) == 1:
        outcomes = []
        for task in tasks:
            outcomes.append(export_one(task))
            report(outcomes[-1])
    else:
        spawn = multiprocessing.get_context("spawn")  # no forked copy of this process's threads
        # the workers die with this process: a killed run leaves no export running on
        with ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=spawn,
                                 initializer=forked_worker_started,
                                 initargs=(os.getpid(),)) as pool:  # fmt: skip
            outcomes = []
            for future in as_completed([pool.submit(export_one, t) for t in tasks]):
                outcomes.append(future.result())
                report(outcomes[-1])  # as each run ends
    order = {n: i for i, n in enumerate(names)}
    outcomes.sort(key=lambda o: order[o.name])
    return EachResult(out_dir, outcomes)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _on_spark(tasks: list, master: str) -> list[RunOutcome]:
    """One Spark task per input; the executors read the inputs and write the runs at the same
    paths (a shared file system). A Spark failure is one line."""
    from dp4kit.regions.spark import spark_failures, spark_session

    with spark_failures(master):
        spark = spark_session(master, max(1, len(tasks)), app="dp4kit export --each")
        try:
            spark.sparkContext.setLogLevel("ERROR")
            return spark.sparkContext.parallelize(tasks, len(tasks)).map(export_one).collect()
        finally:
            spark.stop()
