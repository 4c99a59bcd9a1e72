"""`dp4kit split`: a province file into one part per kab/kota, each exporting exactly as the
province file's own rows would, with every row (broken ones too) in one part."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import SAMPLE, folder_checksums, invoke

DAY = "2024-11-27"


def export(source, out):
    result = invoke("export", source, "--out", out, "--election-date", DAY, "--no-excel")
    assert result.exit_code in (0, 1), result.output
    return Path(out)


def same_outputs(a, b):
    """Every file of two exports but the manifest (which names the input) is identical."""
    left, right = folder_checksums(a), folder_checksums(b)
    left.pop("manifest.json"), right.pop("manifest.json")
    assert left == right and len(left) > 10


def test_a_regency_file_splits_into_one_part_that_exports_the_same(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "siak.csv").write_bytes((SAMPLE / "siak_sample.csv").read_bytes())
    result = invoke("split", "siak.csv", "--out", "parts")
    assert result.exit_code == 0, result.output
    assert "3,000 rows in 1 parts" in result.output
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == ["32.04.parquet", "split.json"]
    same_outputs(export("siak.csv", "direct"), export("parts/32.04.parquet", "via_part"))
    manifest = json.loads((tmp_path / "via_part" / "manifest.json").read_text())
    assert manifest["counts"]["input_rows"] == 3000


def test_each_part_exports_as_the_province_files_own_rows(province_file, tmp_path, monkeypatch):
    folder, frame = province_file
    monkeypatch.chdir(folder)
    result = invoke("split", "provinsi.csv", "--out", tmp_path / "parts")
    assert result.exit_code == 1, result.output  # lainnya holds the broken and unknown rows
    manifest = json.loads((tmp_path / "parts" / "split.json").read_text())
    parts = {p["file"]: p for p in manifest["parts"]}
    codes = sorted(c for c in parts if c != "lainnya.parquet")
    kab = frame["NO_PROP"].str.zfill(2) + "." + frame["NO_KAB"].str.zfill(2)
    assert codes == [f"{k}.parquet" for k in sorted(set(kab) - {"32.99"})] and len(codes) == 3
    assert manifest["accounting"] == {
        "rows_read": len(frame) + 1,
        "rows_in_parts": len(frame) + 1,
        "balanced": True,
    }
    assert (parts["lainnya.parquet"]["rows"], parts["lainnya.parquet"]["broken_rows"]) == (1, 1)
    for code in codes:
        # the province file with every other kab/kota's row blank: same row numbers, and a
        # blank record is no row
        only = frame.where(kab == code[:5], "")
        lines = only.to_csv(index=False).splitlines()
        lines.insert(50, ",".join([""] * len(frame.columns)))
        here = tmp_path / code[:5]
        here.mkdir()
        (here / "provinsi.csv").write_text("\n".join(lines) + "\n")
        monkeypatch.chdir(here)
        direct = export("provinsi.csv", tmp_path / f"direct_{code[:5]}")
        monkeypatch.chdir(folder)
        via = export(tmp_path / "parts" / code, tmp_path / f"via_{code[:5]}")
        same_outputs(direct, via)
        assert parts[code]["rows"] == int((kab == code[:5]).sum())
    other = export(tmp_path / "parts" / "lainnya.parquet", tmp_path / "run_lainnya")
    rejected = pq.read_table(other / "rejected.parquet").to_pandas()
    # the broken row (line 51), and frame row 100 (line 102 + the broken line before it)
    assert sorted(rejected["sumber_baris"]) == [51, 103]
    assert set(rejected["sumber_file"]) == {"provinsi.csv"}


def test_the_parts_runs_combine_and_account_for_every_row(province_file, tmp_path, monkeypatch):
    folder, frame = province_file
    monkeypatch.chdir(folder)
    assert invoke("split", "provinsi.csv", "--out", tmp_path / "parts").exit_code == 1
    runs = [export(part, tmp_path / part.stem)
            for part in sorted((tmp_path / "parts").glob("*.parquet"))]  # fmt: skip
    result = invoke("combine", *runs, "--out", tmp_path / "jabar", "--no-excel")
    assert result.exit_code == 1, result.output
    counts = json.loads((tmp_path / "jabar" / "manifest.json").read_text())["counts"]
    assert counts["input_rows"] == len(frame) + 1
    assert invoke("verify", tmp_path / "jabar").exit_code == 0


def test_a_part_splits_again_into_the_same_part(tmp_path, monkeypatch):
    """A part of an earlier split keeps pointing into the original file when split again
    (its rows' source file was written as a column of its own, then read twice)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "siak.csv").write_bytes((SAMPLE / "siak_sample.csv").read_bytes())
    assert invoke("split", "siak.csv", "--out", "parts").exit_code == 0
    assert invoke("split", "parts/32.04.parquet", "--out", "again").exit_code == 0
    assert (
        pq.read_schema("again/32.04.parquet").names == pq.read_schema("parts/32.04.parquet").names
    )
    same_outputs(export("parts/32.04.parquet", "once"), export("again/32.04.parquet", "twice"))


def test_inputs_it_cannot_split_are_one_line(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "names.csv").write_text("NIK,NAMA_LGKP\n3204110609970001,BUDI\n")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("keep me")
    for args, message in (
        (["empty.csv", "--out", "p"], "the input is empty"),
        (["names.csv", "--out", "p"], "missing required column(s) for profile 'siak': no_kk"),
        ([SAMPLE / "siak_sample.csv", "--out", tmp_path / "theirs"], "not a dp4kit split"),
    ):
        result = invoke("split", *[tmp_path / a if a in ("empty.csv", "names.csv") else a
                                   for a in args])  # fmt: skip
        assert result.exit_code == 2, result.output
        assert message in result.output.lower() and "Traceback" not in result.output
    assert (tmp_path / "theirs" / "notes.txt").read_text() == "keep me"


@pytest.mark.slow
def test_export_each_makes_the_runs_one_export_per_part_makes(province_file, tmp_path,
                                                              monkeypatch):  # fmt: skip
    folder, _ = province_file
    monkeypatch.chdir(folder)
    assert invoke("split", "provinsi.csv", "--out", tmp_path / "parts").exit_code == 1
    parts = sorted((tmp_path / "parts").glob("*.parquet"))
    result = invoke("export", *parts, "--each", "--jobs", "2", "--out", tmp_path / "runs",
                    "--election-date", DAY, "--no-excel")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(p.stem for p in parts)
    assert (tmp_path / "runs").stat().st_mode & 0o777 == 0o700
    assert result.output.count("DONE WITH FINDINGS") == len(parts)
    for part in parts[:2]:
        alone = export(part, tmp_path / "alone" / part.stem)
        assert folder_checksums(tmp_path / "runs" / part.stem) == folder_checksums(alone)


def test_export_each_reports_a_failed_input_and_refuses_what_it_cannot_do(tmp_path):
    (tmp_path / "names.csv").write_text("NIK,NAMA_LGKP\n3204110609970001,BUDI\n")
    good = SAMPLE / "siak_sample.csv"
    result = invoke("export", good, tmp_path / "names.csv", "--each", "--out", tmp_path / "runs",
                    "--election-date", DAY, "--no-excel")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "siak_sample: DONE WITH FINDINGS" in result.output
    assert "names: FAILED (exit 2):" in result.output and "Traceback" not in result.output
    for args, message in (
        ([good, good, "--each"], "two inputs would be written to one run folder: siak_sample"),
        ([good, "--jobs", "2"], "--jobs and --engine go with --each or --memory-limit"),
        ([good, "--engine", "spark"], "--jobs and --engine go with --each or --memory-limit"),
        ([good, "--each", "--out", tmp_path / "runs" / "siak_sample"], "is an export"),
        ([good, "--each", "--out", tmp_path / "names.csv"], "cannot make the folder of runs"),
    ):
        out = [] if "--out" in args else ["--out", tmp_path / "other"]
        result = invoke("export", *args, *out, "--election-date", DAY)
        assert result.exit_code == 2 and message in result.output, result.output


def test_only_a_part_carries_its_rows_source(tmp_path):
    """A column named sumber_file in another input is data: its rows are that input's own."""
    from dp4kit.io.readers import read_inputs

    frame = pd.read_csv(SAMPLE / "siak_sample.csv", dtype=str, nrows=3)
    frame["sumber_file"] = "elsewhere.csv"
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_parquet(tmp_path / "a.parquet")
    for name, first_row in (("a.csv", 2), ("a.parquet", 1)):
        table = read_inputs([tmp_path / name]).table
        assert set(table["sumber_file"].to_pylist()) == {str(tmp_path / name)}
        assert table["sumber_baris"].to_pylist()[0] == first_row
        assert set(table["sumber_file_masukan"].to_pylist()) == {"elsewhere.csv"}


def test_a_split_started_again_mid_file_keeps_every_row_once(tmp_path, monkeypatch):
    """A cp1252 line past the first blocks: the parts written so far are dropped and the
    file read again, in the encoding a pass over its bytes found."""
    monkeypatch.setattr("dp4kit.regions.split.BLOCK", 1 << 14)
    data = (SAMPLE / "siak_sample.csv").read_bytes().split(b"\n")
    data[1] = data[1].replace(b",", ",RENÉ ".encode(), 1)  # UTF-8 on line 2
    data[2500] = data[2500].replace(b",", b",JOS\xc9 ", 1)  # a cp1252 byte on line 2501
    (tmp_path / "a.csv").write_bytes(b"\n".join(data))
    monkeypatch.chdir(tmp_path)
    result = invoke("split", "a.csv", "--out", "parts")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "parts" / "split.json").read_text())
    assert manifest["inputs"][0]["encoding"] == "utf-8+cp1252"
    assert manifest["accounting"]["rows_in_parts"] == 3000
    rows = pq.read_table(tmp_path / "parts" / "32.04.parquet")["sumber_baris"].to_pylist()
    assert rows == list(range(2, 3002))
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == ["32.04.parquet", "split.json"]
