"""Where K3's partition tasks run: here, in spawned worker processes that memory-map the
people from an Arrow file (they die with the run), or elsewhere (`remote`: Spark), a wave of
tasks at a time."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pyarrow as pa

from dp4kit.errors import EngineError
from dp4kit.runs.locking import forked_worker_started

REMOTE_WAVE = 16  # partition tasks sent at once to a `remote` runner
# runs partition tasks elsewhere: (function, people file, argument tuples) -> results in order
Remote = Callable[[Callable, Path, list[tuple]], list]


class Runner:
    """Runs task functions on the people, here (jobs = 1) or in `jobs` spawned processes
    that memory-map the people from an Arrow file in the work folder (they die with this
    process)."""

    def __init__(self, table: pa.Table, folder: Path, jobs: int, path: Path | None,
                 remote: Remote | None = None) -> None:  # fmt: skip
        self.table, self.folder, self.jobs, self.path, self.pool = table, folder, jobs, path, None
        self.remote = remote

    def __enter__(self) -> Runner:
        if (self.jobs > 1 or self.remote) and self.path is None:
            self.path = self.folder / "people.arrow"
            with (pa.OSFile(str(self.path), "wb") as sink,
                  pa.ipc.new_file(sink, self.table.schema) as writer):  # fmt: skip
                writer.write_table(self.table)
        if self.jobs > 1 and self.remote is None:
            self.pool = ProcessPoolExecutor(self.jobs, mp_context=mp.get_context("spawn"),
                                            initializer=forked_worker_started,
                                            initargs=(os.getpid(),))  # fmt: skip
        return self

    def __call__(self, function, arguments) -> list:
        if self.remote is not None:  # waves of tasks: their pairs and people in memory only
            results, wave = [], []
            for args in [*arguments, None]:
                if wave and (args is None or len(wave) == REMOTE_WAVE):
                    results += self.remote(function, self.path, wave)
                    wave = []
                wave += [args] if args is not None else []
            return results
        if self.pool is None:
            return [function(self.table, *args) for args in arguments]
        # a few tasks queued per worker: `arguments` is consumed as they finish, so only
        # those tasks' pairs and people are in this process at a time
        results, waiting = [], deque()
        try:
            for args in arguments:
                waiting.append(self.pool.submit(on_mapped, function, self.path, *args))
                if len(waiting) >= 2 * self.jobs:
                    results.append(waiting.popleft().result())
            return results + [future.result() for future in waiting]
        except BrokenProcessPool as exc:  # killed (out of memory, say): one line, no traceback
            raise EngineError("a K3 worker process ended abruptly (out of memory?)") from exc

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


_MAPPED: dict[Path, pa.Table] = {}


def on_mapped(function, path: Path, *args):
    """`function` on the people memory-mapped from `path` (mapped once per process): a
    partition task in a worker process or a Spark task."""
    if path not in _MAPPED:
        _MAPPED.clear()
        _MAPPED[path] = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    return function(_MAPPED[path], *args)
