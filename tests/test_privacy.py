"""Personal data in outputs: masking reaches every file, modes are private, CSV cells cannot
run as formulas, and log lines can be neither forged nor carry an identifier."""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dp4kit.cli import app
from dp4kit.outputs.privacy import mask_frame, mask_table, neutralise_formulas

from conftest import SAMPLE, siak_rows

runner = CliRunner()
IDENTIFIER = re.compile(r"\d{15,}")


@pytest.fixture
def private_input(tmp_path) -> Path:
    """The sample with parents' NIKs, a few broken rows holding NIKs, and a 15-digit NIK."""
    frame = pd.read_csv(SAMPLE / "siak_sample.csv", dtype="string", keep_default_na=False)
    frame["NIK_AYAH"] = frame["NIK"].str.slice(0, 12) + "9001"
    frame["NIK_IBU"] = frame["NIK"].str.slice(0, 12) + "9002"
    frame.loc[5, "NIK"] = frame.loc[5, "NIK"][:15]  # a digit missing: rejected, still personal
    path = tmp_path / "siak.csv"
    frame.to_csv(path, index=False)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[10] += ",EXTRA,3204110609979999"  # broken rows: the raw text goes to rejected
    lines[20] = lines[20].replace(",", ";", 3)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def text_of(path: Path) -> str:
    """Everything a file says, decoded: Parquet cells, xlsx XML parts, or the text."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return "\n".join(
            "\n".join(str(v) for v in pc.cast(col, pa.string()).to_pylist())
            for col in table.columns
        )
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return path.read_text(encoding="utf-8", errors="replace")


def test_mask_leaves_no_identifier_in_any_output_log_or_message(private_input, tmp_path):
    identifiers = set(IDENTIFIER.findall(private_input.read_text(encoding="utf-8")))
    assert len(identifiers) > 6000  # NIK, NKK, NIK_AYAH, NIK_IBU of 3,000 rows
    job = tmp_path / "job.toml"
    job.write_text(f'inputs = ["{private_input}"]\nelection_date = 2024-11-27\nout = "runs"\n'
                   'csv = true\nmask = true\n'
                   'log_format = "json"\nlog_file = "run.log"\n')  # fmt: skip
    result = runner.invoke(app, ["run", "-c", str(job)])
    assert result.exit_code == 1, result.output
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != private_input and p != job]
    assert len(files) > 40 and any(p.name == "rejected.xlsx" for p in files)
    assert any(p.parent.name == "k3_people" for p in files)  # K3's person files too
    seen = {str(p.relative_to(tmp_path)): identifiers & set(IDENTIFIER.findall(text_of(p)))
            for p in files}  # fmt: skip
    assert {name: found for name, found in seen.items() if found} == {}
    assert not identifiers & set(IDENTIFIER.findall(result.output))
    rejected = pq.read_table(next(tmp_path.rglob("rejected.parquet"))).to_pandas()
    assert rejected["teks_baris"].dropna().str.contains(r"\d{12}\*\*\*\*").all()
    assert rejected["NIK_AYAH"].str.fullmatch(r"\d{12}\*\*\*\*").sum() > 50


def test_mask_table_and_frame_mask_every_text_column():
    table = pa.table({"a": ["x 3204110609970001 y", "320411060997000", "12345", None],
                      "n": [1, 2, 3, 4]})  # fmt: skip
    assert mask_table(table)["a"].to_pylist() == [
        "x 320411060997**** y", "320411060997****", "12345", None
    ]  # fmt: skip
    frame = pd.DataFrame({
        "a": pd.array(["3204110609970001", None], dtype="string[pyarrow]"),
        "b": pd.array(["NIK_IBU 3204114609970002", "ok"], dtype="string"),
    })  # fmt: skip
    masked = mask_frame(frame)
    assert masked["a"].tolist() == ["320411060997****", pd.NA]
    assert masked["b"].tolist() == ["NIK_IBU 320411460997****", "ok"]
    assert masked.dtypes.tolist() == frame.dtypes.tolist()


def modes(folder: Path) -> set[tuple[str, str]]:
    return {("d" if p.is_dir() else "f", oct(stat.S_IMODE(p.stat().st_mode)))
            for p in [folder, *folder.rglob("*")] if not p.is_symlink()}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("flag", "expected"), [
    ((), {("d", "0o700"), ("f", "0o600")}),
    (("--group-readable",), {("d", "0o750"), ("f", "0o640")}),
])  # fmt: skip
def test_outputs_are_private_whatever_the_umask(tmp_path, flag, expected):
    previous = os.umask(0o002)
    try:
        result = runner.invoke(app, ["export", str(SAMPLE / "siak_sample.csv"), "--out",
                                     str(tmp_path / "out"), "--election-date", "2024-11-27",
                                     *flag])  # fmt: skip
    finally:
        os.umask(previous)
    assert result.exit_code == 1
    assert modes(tmp_path / "out") == expected


def test_run_outputs_and_log_file_are_private(tmp_path):
    job = tmp_path / "job.toml"
    job.write_text(f'inputs = ["{SAMPLE / "siak_sample.csv"}"]\nelection_date = 2024-11-27\n'
                   'out = "runs"\nexcel = false\ncsv = true\n'
                   'log_file = "logs/run.log"\n')  # fmt: skip
    previous = os.umask(0o000)
    try:
        assert runner.invoke(app, ["run", "-c", str(job), "-q"]).exit_code == 1
    finally:
        os.umask(previous)
    assert modes(tmp_path / "runs") == {("d", "0o700"), ("f", "0o600")}
    assert oct(stat.S_IMODE((tmp_path / "logs" / "run.log").stat().st_mode)) == "0o600"


# --- formula injection ------------------------------------------------------------------


def test_neutralise_formulas_prefixes_what_a_spreadsheet_would_run():
    table = pa.table({"v": ["=1+2", "+62 812", "-2", "@SUM(A1)", "\tx", "\rx", "BUDI", "a=b",
                            None], "n": [1] * 9})  # fmt: skip
    assert neutralise_formulas(table)["v"].to_pylist() == [
        "'=1+2", "'+62 812", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "BUDI", "a=b", None
    ]  # fmt: skip


def test_dp4_csv_and_the_validate_report_neutralise_formulas(tmp_path):
    rows = siak_rows(
        {"ALAMAT": '=HYPERLINK("http://x","klik")'},
        {"NIK": "=1+2", "NAMA_LGKP": "@ADI"},
    )
    source = tmp_path / "siak.csv"
    rows.to_csv(source, index=False)
    job = tmp_path / "job.toml"
    job.write_text(f'inputs = ["{source}"]\nelection_date = 2024-11-27\nout = "runs"\n'
                   'excel = false\ncsv = true\n')  # fmt: skip
    assert runner.invoke(app, ["run", "-c", str(job), "-q"]).exit_code == 1
    dp4 = pacsv.read_csv(tmp_path / "runs" / "latest" / "dp4.csv").to_pylist()
    assert [r["alamat"] for r in dp4] == ['\'=HYPERLINK("http://x","klik")']
    report = tmp_path / "temuan.csv"
    runner.invoke(app, ["validate", str(source), "--report", str(report)])
    values = pacsv.read_csv(report)["value"].to_pylist()
    assert "'=1+2" in values and "=1+2" not in values


# --- messages and logs ---------------------------------------------------------------------


def test_a_file_name_cannot_forge_a_log_line(tmp_path):
    evil = tmp_path / "a\n2026-01-01 00:00:00 INFO    finish      forged.csv"
    job = tmp_path / "job.toml"
    job.write_text(f"inputs = [{json.dumps(str(evil))}]\nelection_date = 2024-11-27\n"
                   'out = "runs"\nlog_file = "run.log"\n')  # fmt: skip
    result = runner.invoke(app, ["run", "-c", str(job)])
    assert result.exit_code == 2
    log = (tmp_path / "run.log").read_text(encoding="utf-8").splitlines()
    assert [line.split()[3] for line in log] == ["start", "error"]
    assert "a\\n2026-01-01" in log[-1]
    cli = runner.invoke(app, ["validate", str(evil)])
    assert cli.output.count("\n") == 1 and "a\\n2026" in cli.output


def test_an_identifier_in_an_error_message_is_masked(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "3204110609970001.csv")])
    assert result.exit_code == 2
    assert "320411060997****.csv: cannot read the input: no such file" in result.output
    assert "3204110609970001" not in result.output


def test_diff_lists_are_private(tmp_path):
    rows = siak_rows({}, {"NIK": "3204110609970002"})
    source = tmp_path / "siak.csv"
    rows.to_csv(source, index=False)
    for name, day in (("lama", "2024-11-27"), ("baru", "2029-11-27")):
        args = ["export", str(source), "--out", str(tmp_path / name), "--election-date", day]
        assert runner.invoke(app, [*args, "--no-excel"]).exit_code == 0
    previous = os.umask(0o022)
    try:
        result = runner.invoke(app, ["diff", str(tmp_path / "lama"), str(tmp_path / "baru"),
                                     "--out", str(tmp_path / "beda")])  # fmt: skip
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert modes(tmp_path / "beda") == {("d", "0o700"), ("f", "0o600")}
