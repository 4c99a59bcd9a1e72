"""Every option that names a file refuses a device, a FIFO, a folder, an empty file and an
oversized one in one line with exit 2, before anything is written (`io/given_files`)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dp4kit.cli import app
from dp4kit.config import JOB_FILE
from dp4kit.errors import InputFileError
from dp4kit.io import given_files as G

from conftest import SAMPLE

runner = CliRunner()
SAMPLE_CSV = str(SAMPLE / "siak_sample.csv")
DATE = ["--election-date", "2024-11-27"]
BAD = ("device", "fifo", "folder", "empty", "oversized")

# command line, with {} where the bad path goes; the suffix the option's file has; what it holds
FILE_OPTIONS = [
    (["validate", "{}"], ".csv", G.INPUT),
    (["validate", SAMPLE_CSV, "--keluarga", "{}"], ".csv", G.INPUT),
    (["validate", SAMPLE_CSV, "--profile", "{}"], ".toml", G.MAPPING),
    (["validate", SAMPLE_CSV, "--schema", "{}"], ".yaml", G.SCHEMA),
    (["export", "{}", *DATE], ".csv", G.INPUT),
    (["export", "{}", *DATE], ".xlsx", G.XLSX_INPUT),
    (["export", SAMPLE_CSV, "--keluarga", "{}", *DATE], ".csv", G.INPUT),
    (["export", SAMPLE_CSV, "--profile", "{}", *DATE], ".toml", G.MAPPING),
    (["export", SAMPLE_CSV, "--schema", "{}", *DATE], ".yaml", G.SCHEMA),
    (["export", SAMPLE_CSV, "--exclude-nik", "{}", *DATE], ".txt", G.EXCLUSION),
    (["export", SAMPLE_CSV, "--k3-model", "{}", *DATE], ".json", G.K3_MODEL),
    (["export", SAMPLE_CSV, "--decisions", "{}", *DATE], ".xlsx", G.DECISIONS),
    (["export", SAMPLE_CSV, "--decisions", "{}", *DATE], ".csv", G.DECISIONS),
    (["export", "{}", "--memory-limit", "2G", *DATE], ".csv", G.INPUT),
    (["export", SAMPLE_CSV, "--memory-limit", "2G", "--k3-model", "{}", *DATE], ".json",
     G.K3_MODEL),
    (["export", SAMPLE_CSV, "--memory-limit", "2G", "--decisions", "{}", *DATE], ".csv",
     G.DECISIONS),
    (["export", "{}", "--each", *DATE], ".csv", G.INPUT),
    (["aggregate", SAMPLE_CSV, "--exclude-nik", "{}", *DATE], ".txt", G.EXCLUSION),
    (["aggregate", SAMPLE_CSV, "--k3-model", "{}", *DATE], ".json", G.K3_MODEL),
    (["split", "{}"], ".csv", G.INPUT),
    (["split", SAMPLE_CSV, "--profile", "{}"], ".toml", G.MAPPING),
    (["run", "--config", "{}"], ".toml", JOB_FILE),
]  # fmt: skip
FOLDER_OPTIONS = [["verify", "{}"], ["diff", "{}", "{}"], ["combine", "{}", "{}"]]


@pytest.fixture(autouse=True)
def no_hang():
    """A reader that waits on a FIFO or reads /dev/zero fails the test instead of hanging."""

    def stop(*_):
        raise TimeoutError("the command waited or read for ever")

    signal.signal(signal.SIGALRM, stop)
    signal.alarm(30)
    yield
    signal.alarm(0)


def bad_file(tmp_path: Path, bad: str, suffix: str, holds: G.Holds) -> Path:
    """A path of the given bad kind, with the option's suffix (the readers choose by it)."""
    path = tmp_path / f"bad-{bad}{suffix}"
    if bad == "device":
        return Path("/dev/zero")
    if bad == "fifo":
        os.mkfifo(path)
    elif bad == "folder":
        path.mkdir()
    elif bad == "empty":
        path.touch()
    else:  # a sparse file one byte over the limit: no disk used
        with path.open("wb") as f:
            f.truncate(holds.limit + 1)
    return path


def refused(args: list[str], out: Path) -> str:
    result = runner.invoke(app, [*args, "--out", str(out)] if args[0] != "validate" else args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("dp4kit: error: ") and result.output.count("\n") == 1
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))  # nothing written
    return result.output


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize(("args", "suffix", "holds"), FILE_OPTIONS)
def test_every_file_option_refuses_a_bad_file_in_one_line(tmp_path, args, suffix, holds, bad):
    if bad == "oversized" and holds.limit is None:
        pytest.skip("CSV and Parquet inputs have no size limit: --memory-limit streams them")
    if bad == "folder" and holds is G.INPUT:
        pytest.skip("an input may be a folder (of Parquet files): test_readers covers it")
    path = bad_file(tmp_path, bad, suffix, holds)
    output = refused([a.replace("{}", str(path)) for a in args], tmp_path / "out")
    if bad == "device" and "--profile" in args:  # /dev/zero does not end in .toml
        assert "unknown profile" in output
        return
    expected = {"device": "is a device, not a", "fifo": "is a FIFO (named pipe), not a",
                "folder": "must be a file, not a folder", "empty": "is empty (0 bytes)",
                "oversized": "bytes, more than the"}[bad]  # fmt: skip
    assert f"{path}: the " in output and expected in output


@pytest.mark.parametrize("bad", ("device", "fifo", "file", "empty folder", "oversized"))
@pytest.mark.parametrize("args", FOLDER_OPTIONS)
def test_every_folder_argument_refuses_what_is_not_an_export(tmp_path, args, bad):
    path = tmp_path / "run"
    if bad == "device":
        path = Path("/dev/zero")
    elif bad == "fifo":
        os.mkfifo(path)
    elif bad == "file":
        path.write_text("x")
    else:
        path.mkdir()
        if bad == "oversized":  # a manifest of 64 MiB and a byte
            with (path / "manifest.json").open("wb") as f:
                f.truncate(G.MANIFEST.limit + 1)
    out = tmp_path / "out"
    result = runner.invoke(app, [a.replace("{}", str(path)) for a in args]
                           + (["--out", str(out)] if args[0] == "combine" else []))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.output.startswith("dp4kit: error: ") and result.output.count("\n") == 1
    assert not out.exists()
    expected = {
        "device": "the export folder is a device, not a folder",
        "fifo": "the export folder is a FIFO (named pipe), not a folder",
        "file": "export folder must be a folder, not a file",
        "empty folder": "no manifest.json; not a dp4kit output folder",
        "oversized": "the manifest has 67,108,865 bytes, more than the 67,108,864",
    }[bad]
    assert expected in result.output


def test_a_log_file_may_be_a_device_but_not_a_folder_or_an_unread_fifo(tmp_path):
    assert G.checked("/dev/null", G.LOG_FILE) == Path("/dev/null")  # logs may be thrown away
    assert G.checked(tmp_path / "new.log", G.LOG_FILE) == tmp_path / "new.log"
    with pytest.raises(InputFileError, match=r"the log file must be a file, not a folder$"):
        G.checked(tmp_path, G.LOG_FILE)
    os.mkfifo(tmp_path / "log.fifo")
    with pytest.raises(InputFileError, match=r"is a FIFO \(named pipe\) that nothing reads$"):
        G.checked(tmp_path / "log.fifo", G.LOG_FILE)
    result = runner.invoke(app, ["run", SAMPLE_CSV, *DATE, "--out", str(tmp_path / "o"),
                                 "--log-file", str(tmp_path / "log.fifo")])  # fmt: skip
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_the_check_names_the_path_and_what_it_holds(tmp_path):
    model = tmp_path / "k3_model.json"
    model.write_text("{}")
    assert G.checked(model, G.K3_MODEL) == model
    with pytest.raises(InputFileError) as raised:
        G.checked(tmp_path / "gone.json", G.K3_MODEL)
    assert str(raised.value) == f"{tmp_path}/gone.json: cannot read the K3 model: no such file"
    with open(model, "wb") as f:
        f.truncate(G.K3_MODEL.limit + 1)
    with pytest.raises(InputFileError) as raised:
        G.checked(model, G.K3_MODEL)
    assert str(raised.value) == (f"{model}: the K3 model has 1,048,577 bytes, more than the "
                                 "1,048,576 it may have; is this the right file?")  # fmt: skip
    with open(model, "wb") as f:
        f.truncate(G.K3_MODEL.limit)  # at the limit: allowed
    assert G.checked(model, G.K3_MODEL) == model
