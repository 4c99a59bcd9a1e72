"""Run the dp4kit CLI and kill -9 it at a named point (a stage, inside an Excel or K3 worker,
or between the two renames that swap the output in). Used by test_faults.py in a subprocess:

    python fault_driver.py POINT MARKER_DIR export INPUT --out OUT ...
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import dp4kit.export.whole as ex
import dp4kit.outputs.excel as xl
import dp4kit.outputs.files as files


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def mark(markers: str) -> None:
    """A worker's marker: its pid in the name, its parent's inside (whole when seen)."""
    part = Path(markers, f".worker-{os.getpid()}")
    part.write_text(str(os.getppid()))
    part.rename(Path(markers, part.name[1:]))


point, markers, *args = sys.argv[1:]
original = ex.export


def export(paths, out, options, on_stage=None):
    def hook(name: str) -> None:
        if name == point:
            die()
        if on_stage is not None:
            on_stage(name)

    return original(paths, out, options, hook)


ex.export = export

if point == "excel-worker":  # workers forked as for a big export; each one is slow
    xl.PARALLEL_MIN_ROWS = 0
    workbook = xl._kecamatan_workbook

    def slow_workbook(path, *rest):
        mark(markers)
        time.sleep(60)
        return workbook(path, *rest)

    xl._kecamatan_workbook = slow_workbook

if point == "rename":  # the previous output set aside, the new one not yet in place

    def replace_folder(tmp, out_dir, marker, what):
        out_dir.rename(out_dir.parent / f".{out_dir.name}.old-{os.getpid()}")
        die()

    files.replace_folder = replace_folder

if point == "split-write":  # parts half written: small blocks, each batch written at once
    import dp4kit.regions.split as sp

    sp.BLOCK, sp.BUFFER_BYTES = 1 << 14, 0
    add, calls = sp._Writers.add, []

    def dying_add(self, *rest, **named):
        calls.append(1)
        if len(calls) == 6:
            die()
        return add(self, *rest, **named)

    sp._Writers.add = dying_add

if point == "k3-pairs":  # K3 by partitions: every pass's pairs spilled, none counted yet
    import dp4kit.dedup.k3_partitions as kp

    def dying_distinct_pairs(spill, folder, tasks):
        Path(markers, "k3-folder").write_text(str(folder))
        die()

    kp.distinct_pairs = dying_distinct_pairs
    import dp4kit.regions.combine
    import dp4kit.regions.cross_k3

    dp4kit.regions.cross_k3.VOTERS_PER_PARTITION = 2  # combine's K3 by partitions, not at once,
    dp4kit.regions.combine.k3_at_once = lambda budget: 0
    dp4kit.regions.combine.k3_jobs = lambda budget, voters: 1  # in this process (no worker)


import dp4kit.dedup.k3_partitions as kp  # noqa: E402

block_task = kp._block_task


def marking_block_task(*args):
    """A K3 partition's blocking in a spawned worker (which imports this file again, with the
    CLI's arguments: the markers' folder comes in the environment): its pid marked, slow."""
    mark(os.environ["DP4KIT_MARKERS"])
    time.sleep(60)
    return block_task(*args)


if point == "k3-worker":  # the partitioned export's K3 partitions in two worker processes
    import dp4kit.export.first_pass as fp

    os.environ["DP4KIT_MARKERS"] = markers
    kp._block_task = marking_block_task
    fp.k3_partitions = lambda people, budget, jobs=1: 4
    fp.k3_jobs = lambda people, budget, cores=None: 2

if __name__ == "__main__":  # not in a spawned worker, which imports this file as its main
    from dp4kit.cli import main

    sys.argv = ["dp4kit", *args]
    main()
