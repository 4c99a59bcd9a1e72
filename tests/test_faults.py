"""Fault injection: kill -9 at every stage, write failures at every stage, stale locks and the
leftovers of killed runs. After any of them the previous output verifies and the next run works.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dp4kit.cli import app
from dp4kit.outputs.files import clean_leftovers
from dp4kit.runs.jobs import prune
from dp4kit.runs.locking import LockError, output_lock
from dp4kit.runs.verify import verify

from conftest import SAMPLE

pytestmark = pytest.mark.slow  # processes killed mid-run: CI runs them (-m slow)

SAMPLE_CSV = SAMPLE / "siak_sample.csv"
DRIVER = Path(__file__).with_name("fault_driver.py")
runner = CliRunner()


def export_args(out: Path, *extra) -> list[str]:
    return ["export", str(SAMPLE_CSV), "--out", str(out), "--election-date", "2024-11-27",
            *extra]  # fmt: skip


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> Path:
    """An export made before the faults, kept pristine (each test copies it)."""
    out = tmp_path_factory.mktemp("previous") / "out"
    assert runner.invoke(app, export_args(out)).exit_code == 1
    return out


@pytest.fixture
def out(previous, tmp_path) -> Path:
    target = tmp_path / "out"
    shutil.copytree(previous, target)
    return target


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- kill -9 ---------------------------------------------------------------------------


def test_kill_mid_split_keeps_the_previous_parts_and_the_next_split_works(tmp_path):
    parts = tmp_path / "parts"
    assert runner.invoke(app, ["split", str(SAMPLE_CSV), "--out", str(parts)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in parts.iterdir()}
    killed = subprocess.run(
        [sys.executable, str(DRIVER), "split-write", str(tmp_path), "split", str(SAMPLE_CSV),
         "--out", str(parts)], capture_output=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    assert {p.name: p.read_bytes() for p in parts.iterdir()} == before
    work = [name for name in leftovers(tmp_path) if ".tmp-" in name]
    assert work and any((tmp_path / work[0]).glob("*.parquet"))  # parts half written there
    assert runner.invoke(app, ["split", str(SAMPLE_CSV), "--out", str(parts)]).exit_code == 0
    assert leftovers(tmp_path) == []
    assert {p.name: p.read_bytes() for p in parts.iterdir()} == before


def test_kill_mid_export_each_takes_its_workers_with_it_and_the_next_run_works(tmp_path):
    inputs = [tmp_path / f"{name}.csv" for name in ("a", "b")]
    for path in inputs:
        shutil.copy(SAMPLE_CSV, path)
    runs = tmp_path / "runs"
    args = ["export", *map(str, inputs), "--each", "--jobs", "2", "--out", str(runs),
            "--election-date", "2024-11-27"]  # fmt: skip
    parent = subprocess.Popen([sys.executable, "-m", "dp4kit", *args])
    workers: list[int] = []
    for _ in range(400):  # the two spawned exports, as soon as they exist
        workers = [
            int(p) for p in os.listdir("/proc") if p.isdigit() and _parent_of(p) == parent.pid
        ]
        if len(workers) >= 2:
            break
        time.sleep(0.02)
    assert len(workers) >= 2
    parent.kill()
    parent.wait()
    for _ in range(250):
        if all(gone(pid) for pid in workers):
            break
        time.sleep(0.02)
    assert all(gone(pid) for pid in workers)  # no orphan export writing on
    assert not (runs / "a").exists() and not (runs / "b").exists()  # killed mid-export
    again = runner.invoke(app, args)
    assert again.exit_code == 1, again.output
    assert sorted(p.name for p in runs.iterdir()) == ["a", "b"]  # work folders cleaned
    assert verify(runs / "a").problems == [] and verify(runs / "b").problems == []


def _command_of(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _parent_of(pid: str) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.mark.parametrize("point", ["validate", "aggregate", "parquet", "excel", "rename"])
def test_kill_at_a_stage_keeps_the_previous_output_and_the_next_run_works(out, tmp_path, point):
    killed = subprocess.run(
        [sys.executable, str(DRIVER), point, str(tmp_path), *export_args(out)],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    if point == "rename":  # killed between the renames: the previous output is set aside
        assert not out.exists()
    else:
        assert verify(out).problems == []
    if point in ("parquet", "excel"):  # a work folder full of personal data was left behind
        assert any(".tmp-" in name for name in leftovers(tmp_path))

    again = runner.invoke(app, export_args(out, "--no-excel"))
    assert again.exit_code == 1, again.output
    assert verify(out).problems == []
    assert leftovers(tmp_path) == []  # work folders, set-aside outputs and locks cleaned


def test_kill_mid_k3_by_partitions_leaves_its_pairs_where_the_next_run_removes_them(
        out, tmp_path):  # fmt: skip
    killed = subprocess.run(
        [sys.executable, str(DRIVER), "k3-pairs", str(tmp_path),
         *export_args(out, "--no-excel", "--k3-partitions", "3")],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    folder = Path((tmp_path / "k3-folder").read_text())
    assert folder.parent == tmp_path and ".tmp-" in folder.name  # the output's work folder
    assert any(folder.glob("pairs-*.bin"))  # the spilled pairs, left behind
    assert verify(out).problems == []  # the previous output is untouched
    again = runner.invoke(app, export_args(out, "--no-excel", "--k3-partitions", "3"))
    assert again.exit_code == 1, again.output
    assert verify(out).problems == []
    assert not folder.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("point", ["dedup_exact", "tables"])
def test_kill_mid_partitioned_export_keeps_the_previous_output_and_the_next_run_works(
        out, tmp_path, point):  # fmt: skip
    """Killed with the first pass's kept rows, NIK spill and people files written
    (dedup_exact), or with every part's dp4/ files written (tables): all of it is in the
    output's work folder."""
    args = export_args(out, "--no-excel", "--memory-limit", "2G")
    killed = subprocess.run([sys.executable, str(DRIVER), point, str(tmp_path), *args],
                            capture_output=True, timeout=120)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    assert verify(out).problems == []
    work = [tmp_path / n for n in leftovers(tmp_path) if ".tmp-" in n]
    names = {p.name for p in (work[0] / ".work").iterdir()}
    assert len(work) == 1
    assert any(n.startswith(("people-", "people.arrow")) for n in names)  # K3's people
    if point == "dedup_exact":  # after the first pass: each part's rows, kept for the second
        assert any(n.startswith("read-") for n in names)
    again = runner.invoke(app, args)
    assert again.exit_code == 1, again.output
    assert verify(out).problems == []
    assert leftovers(tmp_path) == []


def workers_marked(markers: Path, parent: subprocess.Popen, count: int = 1) -> list[int]:
    """The pids the driver's workers wrote into `markers` (waits for `count` of them)."""
    deadline = time.monotonic() + 90
    while (len(list(markers.glob("worker-*"))) < count and time.monotonic() < deadline
           and parent.poll() is None):  # fmt: skip
        time.sleep(0.1)
    return [int(p.name.split("-")[1]) for p in markers.glob("worker-*")]


def all_gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 10
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return all(gone(p) for p in pids)


def test_kill_mid_k3_workers_takes_them_with_it_and_the_next_run_works(out, tmp_path):
    """The partitioned export's K3 partitions in spawned worker processes (two at once),
    the run killed while they block: no worker outlives it, the previous output verifies,
    the next run removes the work folder and works."""
    markers = tmp_path / "markers"
    markers.mkdir()
    args = export_args(out, "--no-excel", "--memory-limit", "2G")
    parent = subprocess.Popen([sys.executable, str(DRIVER), "k3-worker", str(markers), *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    workers = workers_marked(markers, parent, 2)
    assert len(workers) == 2, parent.stderr.read() if parent.poll() is not None else workers
    assert all(int((markers / f"worker-{w}").read_text()) == parent.pid for w in workers)
    parent.kill()
    parent.wait()
    assert all_gone(workers), "K3 workers outlived their parent"
    shutil.rmtree(markers)
    assert verify(out).problems == []
    again = runner.invoke(app, args)
    assert again.exit_code == 1, again.output
    assert verify(out).problems == []
    assert leftovers(tmp_path) == []


def test_kill_mid_excel_leaves_no_worker_holding_the_lock(out, tmp_path):
    """The issue's case: forked Excel workers outlived a kill -9 and kept the lock forever."""
    markers = tmp_path / "markers"
    markers.mkdir()
    parent = subprocess.Popen(
        [sys.executable, str(DRIVER), "excel-worker", str(markers), *export_args(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workers = workers_marked(markers, parent)
    assert workers, "the Excel stage did not start"
    parent.kill()
    parent.wait()
    assert all_gone(workers), "Excel workers outlived their parent"
    assert verify(out).problems == []
    again = runner.invoke(app, export_args(out, "--no-excel"))
    assert again.exit_code == 1, again.output
    assert verify(out).problems == []
    assert leftovers(tmp_path) == []


# --- locks -------------------------------------------------------------------------------

ORPHAN = textwrap.dedent("""
    import fcntl, json, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"pid": int(sys.argv[2]), "host": sys.argv[3]}).encode())
    print("locked", flush=True)
    time.sleep(60)
""")


def hold(lock: Path, recorded_pid: int) -> subprocess.Popen:
    """A process holding the lock while the file names `recorded_pid` as the holder."""
    holder = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(lock), str(recorded_pid), socket.gethostname()],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_lock_held_by_orphans_of_a_dead_run_is_taken_over(tmp_path):
    lock = tmp_path / ".dp4kit.lock"
    dead = dead_pid()
    orphan = hold(lock, dead)
    try:
        with output_lock(lock) as stale:
            assert stale["pid"] == dead
            assert json.loads(lock.read_text())["pid"] == os.getpid()
        assert not lock.exists()
    finally:
        orphan.kill()
        orphan.wait()


def test_a_lock_whose_recorded_holder_lives_is_refused(tmp_path):
    lock = tmp_path / ".dp4kit.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    orphan = hold(lock, holder.pid)
    try:
        with pytest.raises(LockError, match=f"pid {holder.pid} on"), output_lock(lock):
            pass
    finally:
        for p in (orphan, holder):
            p.kill()
            p.wait()


# --- write failures ------------------------------------------------------------------------


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


WRITERS = {
    "parquet": "dp4kit.outputs.parquet.pq.write_table",
    "csv": "pyarrow.csv.CSVWriter",  # dp4.csv (outputs/stream.CsvAppender)
    "excel": "dp4kit.outputs.excel.write_xlsx_sheets",
    "dak2": "dp4kit.outputs.dak2_report.write_dak2_report",
    "swap": "dp4kit.outputs.files.replace_folder",
}


@pytest.mark.parametrize("stage", [s for s in WRITERS if s != "csv"])
def test_a_write_failure_is_one_line_exit_2_and_keeps_the_previous_output(
    out, tmp_path, monkeypatch, stage
):
    monkeypatch.setattr(WRITERS[stage], disk_full)
    result = runner.invoke(app, export_args(out))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"dp4kit: error: {out}: cannot write the export: No space left on device"
    ]
    assert verify(out).problems == []
    assert leftovers(tmp_path) == []


def test_a_partitioned_export_that_cannot_keep_a_part_is_one_line_and_keeps_the_output(
    out, tmp_path, monkeypatch
):
    from dp4kit.export import first_pass

    real = first_pass.pa.CompressedOutputStream  # the kept part's file, as on a full disk
    monkeypatch.setattr(first_pass.pa, "CompressedOutputStream",
                        lambda path, codec: real("/dev/full", codec))  # fmt: skip
    result = runner.invoke(app, export_args(out, "--memory-limit", "2G"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"dp4kit: error: {out}: cannot write the export: Error writing bytes to file. "
        "Detail: [errno 28] No space left on device"
    ]
    assert verify(out).problems == []
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("stage", ["csv", "excel"])
def test_a_run_logs_a_write_failure_as_a_json_line(tmp_path, monkeypatch, stage):
    monkeypatch.setattr(WRITERS[stage], disk_full)
    job = tmp_path / "job.toml"
    job.write_text(f'inputs = ["{SAMPLE_CSV}"]\nelection_date = 2024-11-27\nout = "runs"\n'
                   'csv = true\n')  # fmt: skip
    result = runner.invoke(app, ["run", "-c", str(job), "--log-format", "json"])
    assert result.exit_code == 2
    last = json.loads(result.output.strip().splitlines()[-1])
    assert last["level"] == "error" and last["stage"] == "error"
    assert last["message"].endswith("cannot write the export: No space left on device")
    assert [p.name for p in (tmp_path / "runs").iterdir()] == []  # no run, no leftovers


def test_a_file_size_limit_is_a_real_write_failure(out, tmp_path):
    """Not a patched writer: the kernel refuses to let a file grow past 40 KB."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    result = subprocess.run(
        [sys.executable, "-m", "dp4kit", *export_args(out)],
        capture_output=True, text=True, preexec_fn=limit, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.startswith(f"dp4kit: error: {out}: cannot write the export: ")
    assert message.endswith("File too large") and "\n" not in message
    assert verify(out).problems == []


# --- leftovers and pruning ------------------------------------------------------------------


def test_leftovers_of_dead_runs_are_removed_or_restored(tmp_path):
    dead = dead_pid()
    (tmp_path / f".out.tmp-{dead}").mkdir()
    (tmp_path / f".out.tmp-{dead}" / "dp4.csv").write_text("personal data")
    (tmp_path / f".lama.old-{dead}").mkdir()  # the only copy of `lama`: put back
    (tmp_path / f".lama.old-{dead}" / "manifest.json").write_text("{}")
    (tmp_path / f".latest.tmp-{dead}").symlink_to("lama")
    (tmp_path / f".out.tmp-{os.getpid()}").mkdir()  # this process's own: left alone
    done = clean_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".out.tmp-{os.getpid()}", "lama"]
    assert (tmp_path / "lama" / "manifest.json").exists()
    assert len(done) == 3


def test_leftovers_of_other_outputs_are_not_touched(tmp_path):
    dead = dead_pid()
    (tmp_path / f".other.tmp-{dead}").mkdir()
    assert clean_leftovers(tmp_path, "out") == []
    assert (tmp_path / f".other.tmp-{dead}").exists()


def test_keep_orders_runs_by_completion_and_spares_latest(tmp_path):
    """A clock set back: the newest run has the smallest name."""
    names = ["2030-01-01T000000", "2030-01-02T000000", "2020-01-01T000000"]  # completion order
    for i, name in enumerate(names):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
        stamp = 1_700_000_000 + i * 60
        os.utime(tmp_path / name / "manifest.json", (stamp, stamp))
    (tmp_path / "latest").symlink_to(names[-1])
    assert [p.name for p in prune(tmp_path, 2)] == ["2030-01-01T000000"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["latest", *names[1:]])
    (tmp_path / "latest").unlink()
    (tmp_path / "latest").symlink_to(names[1])  # latest pointed back at an older run
    assert prune(tmp_path, 1) == []  # the older one is `latest`, the newer one is kept
