"""Unattended runs: settings precedence and errors, logs, locks, dated runs, the old flag
spellings."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from dp4kit.config import ConfigError, resolve
from dp4kit.runs.logs import TextLines, colours_wanted

from conftest import SAMPLE_CSV, SAMPLE_EXPORT, invoke, job_file, siak_rows

# --- settings ---------------------------------------------------------------------------


def test_precedence_flag_over_environment_over_file_over_default(tmp_path):
    path = job_file(tmp_path, keep=3, mask=True, profile="siak")
    env = {"DP4KIT_KEEP": "5", "DP4KIT_MASK": "false"}
    settings, origin = resolve(path, {"keep": 7}, env)
    assert settings.keep == 7 and origin["keep"] == "flag"
    assert settings.mask is False and origin["mask"] == "environment"
    assert settings.profile == "siak" and origin["profile"] == "file"
    assert settings.log_format == "text" and origin["log_format"] == "default"
    assert settings.out == tmp_path.resolve() / "hasil"  # relative to the job file
    assert settings.election_date == dt.date(2024, 11, 27)
    settings, origin = resolve(path, {}, {"DP4KIT_CSV": "true"})
    assert settings.csv is True and origin["csv"] == "environment"


@pytest.mark.parametrize(
    ("settings", "env", "flags", "message"),
    [
        ({"election_day": "2024-11-27"}, {}, [], "unknown setting 'election_day'"),
        ({"keep": "ten"}, {}, [], "keep: expected a whole number"),
        ({"mask": "ya"}, {}, [], "mask: expected true or false"),
        ({"formats": ["pdf"]}, {}, [], "formats: 'pdf' is not one of parquet, xlsx, csv"),
        ({"formats": ["xlsx"]}, {}, [], "formats: parquet is always written"),
        ({}, {"DP4KIT_MERGE_FUZZY": "2"}, [], "DP4KIT_MERGE_FUZZY: merge_fuzzy: expected a"),
        ({}, {"DP4KIT_KEPP": "1"}, [], "unknown environment variable DP4KIT_KEPP"),
        ({}, {}, ["--election-date", "27-11-2024"], "--election-date: expected a date"),
        ({"out": ""}, {}, [], "out: expected a path, got an empty text"),
        ({"out": None}, {}, [], "out is not set: give --out, DP4KIT_OUT or `out` in the job"),
    ],
)
def test_setting_errors_name_the_key_and_exit_2(tmp_path, settings, env, flags, message):
    path = job_file(tmp_path, **settings)
    result = invoke("run", "--config", path, *flags, env=env)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1


def test_not_toml_is_a_config_error(tmp_path):
    path = tmp_path / "job.toml"
    path.write_text("inputs = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve(path, {}, {})


def test_init_config_writes_a_valid_commented_example(tmp_path):
    path = tmp_path / "job.toml"
    assert invoke("init-config", path).exit_code == 0
    text = path.read_text()
    assert text.count("#") > 20 and "DP4KIT_" in text
    settings, origin = resolve(path, {}, {})
    assert settings.keep == 10 and origin["inputs"] == "file"
    again = invoke("init-config", path)
    assert again.exit_code == 2 and "exists" in again.output
    assert invoke("init-config", path, "--force").exit_code == 0


# --- run, logs, dated folders ---------------------------------------------------------------


def identifiers() -> set[str]:
    sample = pd.read_csv(SAMPLE_CSV, dtype=str, keep_default_na=False)
    values = set(sample["NIK"]) | set(sample["NO_KK"]) | set(sample["NAMA_LGKP"])
    return {v for v in values if len(v.strip()) >= 4}


def test_run_json_logs_parse_and_hold_no_identifiers(tmp_path):
    log = tmp_path / "run.log"
    path = job_file(tmp_path, log_format="json", log_file=str(log), keep=2)
    results = [invoke("run", "--config", path) for _ in range(3)]
    assert [r.exit_code for r in results] == [1, 1, 1]  # the sample has rejected rows
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(set(e) == {"time", "level", "stage", "message", "counts", "elapsed"} for e in lines)
    finish = [e for e in lines if e["stage"] == "finish" and e["counts"]][0]
    assert {k: finish["counts"][k] for k in SAMPLE_EXPORT} == SAMPLE_EXPORT
    stages = [e["stage"] for e in lines[:12]]
    assert stages[:3] == ["start", "read", "validate"] and "aggregate" in stages
    assert [e["elapsed"] for e in lines if e["stage"] == "read"][0] >= 0
    text = log.read_text() + "".join(r.output for r in results)
    leaked = [v for v in identifiers() if v in text]
    assert leaked == []
    root = tmp_path / "hasil"
    runs = sorted(p.name for p in root.iterdir() if not p.name.startswith((".", "latest")))
    assert len(runs) == 2  # --keep 2 pruned the first run
    assert os.readlink(root / "latest") == runs[-1]
    assert "pruned old run" in log.read_text()


def test_quiet_run_within_thresholds_prints_nothing(tmp_path):
    path = job_file(tmp_path, quiet=True, max_rejected_share=0.05)
    rows = siak_rows({}, {"NIK": "3204114609970002", "JENIS_KLMIN": "2", "NAMA_LGKP": "ANI"})
    clean = tmp_path / "bersih.csv"
    rows.to_csv(clean, index=False)
    result = invoke("run", "--config", path, clean)
    assert result.exit_code == 0 and result.output == ""
    loud = invoke("run", "--config", path, "--no-quiet", clean)
    assert loud.exit_code == 0 and "run finished" in loud.output


def test_colours_only_on_a_terminal_without_no_color(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colours_wanted(Tty()) and not colours_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colours_wanted(Tty())
    import logging

    record = logging.LogRecord("x", logging.WARNING, "", 0, "hati-hati", None, None)
    assert "\x1b[" in TextLines(True).format(record)
    assert "\x1b[" not in TextLines(False).format(record)


# --- locks -----------------------------------------------------------------------------------

HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from dp4kit.runs.locking import output_lock
    with output_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_a_second_process_is_refused_while_the_first_holds_the_lock(tmp_path):
    path = job_file(tmp_path)
    lock = tmp_path / "hasil" / ".dp4kit.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = invoke("run", "--config", path)
        assert result.exit_code == 2
        assert f"another dp4kit run (pid {holder.pid} on" in result.output
        assert not any(p.name[0].isdigit() for p in (tmp_path / "hasil").iterdir())
    finally:
        holder.kill()
        holder.wait()
    result = invoke("run", "--config", path)  # the holder died: its lock is taken over
    assert result.exit_code == 1
    assert f"took over a stale lock left by pid {holder.pid}" in result.output
    assert not lock.exists()


def test_export_refuses_a_folder_another_export_is_writing(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / ".out.lock")],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        holder.stdout.readline()
        result = invoke("export", SAMPLE_CSV, "--out", tmp_path / "out", "--election-date",
                        "2024-11-27", "--no-excel")  # fmt: skip
        assert result.exit_code == 2 and "another dp4kit run" in result.output
    finally:
        holder.kill()
        holder.wait()


def test_unwritable_log_file_and_job_file_are_one_line_errors(tmp_path):
    blocker = tmp_path / "bukan_folder"
    blocker.write_text("a file, not a folder")
    path = job_file(tmp_path, log_file=str(blocker / "run.log"))
    result = invoke("run", "--config", path)
    assert result.exit_code == 2 and "cannot open the log file" in result.output
    written = invoke("init-config", blocker / "job.toml")
    assert written.exit_code == 2 and "cannot write" in written.output
    assert "Traceback" not in result.output + written.output


# --- settings and small failures (issue 11) --------------------------------------------------


@pytest.mark.parametrize("value", ["²", "٣", "1.5", "-1"])
def test_a_count_that_is_not_ascii_digits_is_a_setting_error(tmp_path, value):
    result = invoke("run", "--config", job_file(tmp_path), env={"DP4KIT_KEEP": value})
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"dp4kit: error: DP4KIT_KEEP: keep: expected a whole number ≥ 0, got {value!r}"
    )


def test_a_relative_profile_in_a_job_file_is_relative_to_the_job_file(tmp_path, monkeypatch):
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "kolom.toml").write_text('[columns]\nnik = "NIK"\n')
    path = job_file(folder, profile="kolom.toml")
    monkeypatch.chdir(tmp_path)
    settings, _ = resolve(path, {})
    assert settings.profile == str(folder / "kolom.toml")
    assert resolve(job_file(folder, profile="siak"), {})[0].profile == "siak"


def test_a_log_file_that_cannot_be_written_is_one_error(tmp_path):
    result = invoke("run", "--config", job_file(tmp_path), "--log-file", "/dev/full")
    assert result.exit_code == 2
    assert result.output.count("Traceback") == 0
    assert result.output.strip().endswith(
        "/dev/full: cannot write the log file: No space left on device"
    )
    assert result.output.count("cannot write the log file") == 1


def test_sample_and_small_inputs_fail_in_one_line(tmp_path):
    blocker = tmp_path / "berkas"
    blocker.write_text("a file, not a folder")
    written = invoke("sample", "--out", blocker / "x.csv", "--rows", "10")
    assert written.exit_code == 2 and written.output.startswith(f"dp4kit: error: {blocker}")
    huge = tmp_path / "besar.txt"
    with huge.open("wb") as f:
        f.truncate(70_000_000)
    for flag, what in (("--exclude-nik", "exclusion list"), ("--profile", "mapping file")):
        target = huge if flag == "--exclude-nik" else huge.rename(tmp_path / "besar.toml")
        result = invoke("export", SAMPLE_CSV, "--out", tmp_path / "out", "--election-date",
                        "2024-11-27", flag, target)  # fmt: skip
        assert result.exit_code == 2, result.output
        assert f"the {what} has 70,000,000 bytes" in result.output
        assert result.output.count("\n") == 1


def test_run_takes_export_spellings_and_warns_on_the_old_ones(tmp_path):
    """`--schema`, `--level`, `--excel/--csv` in run as in export, and the same keys in the job
    file and the environment; the old spellings (`--schemas`, `--levels`, `--formats`, and
    `schemas`, `levels`, `formats` as keys) still work for one release, with a warning."""
    path = job_file(tmp_path)
    new = invoke("run", "--config", path, "--level", "nasional", "--level", "desa", "--csv",
                 "--show-config")  # fmt: skip
    assert new.exit_code == 0, new.output
    assert 'level = ["desa", "nasional"]  # flag' in new.output
    assert "csv = true  # flag" in new.output and "deprecated" not in new.output
    old = invoke("run", "--config", path, "--levels", "desa,nasional", "--formats",
                 "parquet,csv", "--schemas", tmp_path / "a.yaml", "--show-config")  # fmt: skip
    assert old.exit_code == 0, old.output
    assert 'level = ["desa", "nasional"]  # flag' in old.output
    assert "csv = true  # flag" in old.output and "excel = false  # flag" in old.output
    assert f'schema = ["{tmp_path / "a.yaml"}"]  # flag' in old.output
    for warning in ("--levels is deprecated: use --level", "--schemas is deprecated: use "
                    "--schema", "--formats is deprecated: use --excel and --csv"):  # fmt: skip
        assert f"warning: {warning}" in old.output
    keys = job_file(tmp_path, excel=None, levels=["kabkota"], formats=["parquet", "xlsx"])
    from_file = invoke("run", "--config", keys, "--show-config",
                       env={"DP4KIT_SCHEMAS": "b.yaml"})  # fmt: skip
    assert from_file.exit_code == 0, from_file.output
    assert 'level = ["kabkota"]  # file' in from_file.output
    assert "excel = true  # file" in from_file.output
    assert 'schema = ["b.yaml"]  # environment' in from_file.output
    assert "warning: `levels` (job file) is deprecated: use `level` (job file)" in from_file.output
    assert "warning: DP4KIT_SCHEMAS is deprecated: use DP4KIT_SCHEMA" in from_file.output
