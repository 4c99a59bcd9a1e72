"""The stages of `dp4kit export`, in order, one timer for them (export, build_dp4), how
independent work in them runs on every core (`in_threads`), and how a stage's freed memory
goes back to the system (`give_back_memory`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

THREADS_FROM = 20_000  # rows: below this, starting threads costs more than they save

# (stage, what a user is told while it runs), in the order export runs them
STAGES = (
    ("read", "reading inputs"),
    ("validate", "validating"),
    ("dedup_exact", "finding exact duplicates"),
    ("dedup_fuzzy", "finding K3 pairs (same person, two NIKs)"),
    ("eligibility", "deciding eligibility"),
    ("tables", "building tables"),
    ("aggregate", "aggregating"),
    ("parquet", "writing Parquet"),
    ("excel", "writing Excel"),
    ("manifest", "writing manifest"),  # shown after excel; timed within the total only
)
ORDER = [name for name, _ in STAGES]
LABEL = dict(STAGES)


def running_after(done: str) -> str:
    """The label of the stage that runs once `done` has finished."""
    at = ORDER.index(done) + 1 if done in ORDER else len(ORDER)
    return LABEL[ORDER[at]] if at < len(ORDER) else "finishing"


class StageTimer:
    """Seconds per stage since the previous mark (rounded to ms); tells `on_stage` each
    finished stage."""

    def __init__(self, on_stage: Callable[[str], None] | None = None) -> None:
        self.on_stage = on_stage
        self.seconds: dict[str, float] = {}
        self.started = self.last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.last, 3)
        self.last = now
        if self.on_stage is not None:
            self.on_stage(name)

    def restart(self) -> None:
        """The next stage counts from now (time spent elsewhere was timed there)."""
        self.last = time.perf_counter()

    def total(self) -> float:
        return round(time.perf_counter() - self.started, 3)


def in_threads(function: Callable[..., Any], items: Iterable, rows: int) -> list:
    """`function` over `items`, results in order: one thread per core when the work is on at
    least THREADS_FROM rows (NumPy's, Arrow's and rapidfuzz's kernels release the GIL), else
    here, one after another."""
    items = list(items)
    threads = min(os.cpu_count() or 1, len(items))
    if rows < THREADS_FROM or threads < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(function, items))


def give_back_memory() -> None:
    """Return freed memory to the system (Arrow's pool and the C allocator keep what was
    freed for reuse, which counts against the budget): between the stages of a partitioned
    run, where one stage's working memory is the next one's room."""
    import contextlib
    import ctypes

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: it gives back on its own
        ctypes.CDLL("libc.so.6").malloc_trim(0)
