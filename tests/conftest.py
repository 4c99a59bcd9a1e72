"""Shared fixtures: the committed sample data and hand-made SIAK rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
AS_OF = dt.date(2024, 11, 27)  # Pilkada 2024 voting day
# What the committed sample must give: validation per file, and the export of siak_sample.csv
EXPECTED = json.loads((SAMPLE / "expected_validation.json").read_text())
SAMPLE_VALIDATION = EXPECTED["siak_sample.csv"]["summary"]
SAMPLE_EXPORT = EXPECTED["siak_sample.csv"]["export"]
SAMPLE_CSV = SAMPLE / "siak_sample.csv"


def invoke(*args, env=None):
    """The CLI in-process (Typer's CliRunner), arguments as text."""
    from typer.testing import CliRunner

    from dp4kit.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def job_file(folder, **settings) -> Path:
    """A job file for `dp4kit run` on the sample (Parquet only), with `settings` on top."""
    body = {"inputs": [str(SAMPLE_CSV)], "election_date": "2024-11-27", "out": "hasil",
            "excel": False, **settings}  # fmt: skip
    lines = [f"{k} = {json.dumps(v)}" for k, v in body.items() if v is not None]
    path = folder / "job.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# One valid resident of Sangkanhurip (32.04.11.2001), Kabupaten Bandung.
VALID = {
    "NIK": "3204110609970001",
    "NO_KK": "3204110101100001",
    "NAMA_LGKP": "BUDI SANTOSO",
    "JENIS_KLMIN": "1",
    "TMPT_LHR": "BANDUNG",
    "TGL_LHR": "06-09-1997",
    "AGAMA": "1",
    "STAT_KWN": "1",
    "JENIS_PKRJN": "88",
    "ALAMAT": "JL. MERDEKA NO. 1",
    "NO_RT": "1",
    "NO_RW": "2",
    "NO_PROP": "32",
    "NO_KAB": "4",
    "NO_KEC": "11",
    "NO_KEL": "2001",
    "FLAG_STATUS": "0",
}


def siak_rows(*changes: dict) -> pd.DataFrame:
    """One SIAK row per dict: the valid resident with those fields changed."""
    return pd.DataFrame([{**VALID, **c} for c in changes], dtype="string")


@pytest.fixture
def as_of() -> dt.date:
    return AS_OF


def bandung_population():
    """The population (after validation and dedup) of these hand-made residents:
    Katapang (32.04.11) and Cileunyi (32.04.05) residents of Kabupaten Bandung."""
    rows = siak_rows(
        {},  # man, 27, KK A
        {"NIK": "3204114609970002", "JENIS_KLMIN": "2", "NAMA_LGKP": "ANI"},  # woman, KK A
        {
            "NIK": "3204112711070001",
            "TGL_LHR": "27-11-2007",
            "NO_KK": "3204110101100002",
        },  # 17 today
        {"NIK": "3204112811070001", "TGL_LHR": "28-11-2007", "NO_KK": "3204110101100002"},  # 16
        {
            "NIK": "3204115101080001",
            "TGL_LHR": "11-01-2008",
            "JENIS_KLMIN": "2",
            "STAT_KWN": "2",
            "NO_KK": "3204110101100003",
        },  # married at 16
        {
            "NIK": "3204110101940001",
            "TGL_LHR": "01-01-1994",
            "JENIS_PKRJN": "6",
            "NO_KK": "3204110101100003",
        },  # TNI
        {"NIK": "3204110202940001", "TGL_LHR": "02-02-1994", "FLAG_STATUS": "1"},  # inactive
        {
            "NIK": "3273010303900001",
            "TGL_LHR": "03-03-1990",
            "NO_KEC": "5",
            "NO_KEL": "2001",
            "NO_KK": "3204050101100009",
        },  # NIK from Kota Bandung, lives in Cileunyi
    )
    from dp4kit.validation import dp4_from_frame

    return dp4_from_frame(rows, AS_OF).population


def folder_checksums(folder):
    """The sha256 of every file under a folder, by relative path."""
    from dp4kit.io.sources import file_sha256

    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    """Three generated regencies with people planted on two regencies' lists, exported."""
    from dp4kit.sample.regions import write_regencies

    tmp = tmp_path_factory.mktemp("province")
    runs = []
    for path in write_regencies(tmp, rows=1800, regencies=3, moved_share=0.01):
        out = path.with_suffix("")
        result = invoke("export", path, "--out", out, "--election-date", "2024-11-27", "--no-excel")
        assert result.exit_code in (0, 1), result.output
        runs.append(out)
    return runs


@pytest.fixture(scope="module")
def province_file(tmp_path_factory, province):
    """The three generated regencies as one file, with a broken row and a row in an unknown
    kab/kota (NO_KAB 99) among them."""
    tmp = tmp_path_factory.mktemp("split")
    frames = [pd.read_csv(run.with_suffix(".csv"), dtype=str, keep_default_na=False)
              for run in province]  # fmt: skip
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sample(frac=1, random_state=7).reset_index(drop=True)  # regencies mixed
    frame.loc[100, "NO_KAB"] = "99"
    lines = frame.to_csv(index=False).splitlines()
    lines.insert(50, "3204110609970001,TOO,FEW")
    (tmp / "provinsi.csv").write_text("\n".join(lines) + "\n")
    return tmp, frame
