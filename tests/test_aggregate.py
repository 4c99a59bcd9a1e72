"""DAK2 and aggregates: exact counts on a hand-made population, invariants, the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dp4kit.aggregate import InvariantError, aggregate, check_invariants, semester_of
from dp4kit.cli import app
from dp4kit.validation import dp4_from_frame

from conftest import SAMPLE, bandung_population, siak_rows

DAY = dt.date(2024, 11, 27)


def population():
    return bandung_population()


def test_dak2_per_kecamatan_exact_counts():
    agg = aggregate(population(), "2024-S2")
    dak2 = agg.dak2.set_index("kode_kecamatan")
    katapang = dak2.loc["32.04.11"]
    assert katapang["kecamatan"] == "Katapang"
    assert (katapang["laki_laki"], katapang["perempuan"], katapang["jumlah"]) == (4, 2, 6)
    assert katapang["jumlah_kk"] == 3
    assert (katapang["wajib_ktp_laki_laki"], katapang["wajib_ktp_perempuan"]) == (3, 2)
    assert (katapang["pemilih_laki_laki"], katapang["pemilih_perempuan"]) == (2, 2)
    assert katapang["pemilih_jumlah"] == 4
    cileunyi = dak2.loc["32.04.05"]  # counted by address, not by the NIK's region
    assert (cileunyi["jumlah"], cileunyi["pemilih_jumlah"]) == (1, 1)
    assert "32.73.01" not in dak2.index


def test_every_kecamatan_of_the_regency_is_listed_and_empty_ones_flagged():
    agg = aggregate(population(), "2024-S2")
    dak2 = agg.dak2
    assert len(dak2) == 31  # Kabupaten Bandung has 31 kecamatan in the 2025 master
    assert dak2["tanpa_penduduk"].sum() == 29
    assert dak2.loc[dak2["tanpa_penduduk"], "jumlah"].eq(0).all()


def test_roll_ups_and_breakdowns_add_up():
    agg = aggregate(population(), "2024-S2")
    nation = agg.levels["nasional"].iloc[0]
    assert (nation["jumlah"], nation["pemilih_jumlah"], nation["jumlah_kk"]) == (7, 5, 4)
    assert agg.levels["kabkota"]["jumlah"].tolist() == [7]
    assert agg.levels["provinsi"]["kode_provinsi"].tolist() == ["32"]
    assert agg.levels["desa"]["jumlah"].sum() == 7
    ages = agg.breakdowns["umur"].set_index(["kode_kecamatan", "umur"])
    assert ages.loc[("32.04.11", "15-19"), "jumlah"] == 3
    assert ages.loc[("32.04.11", "25-29"), "laki_laki"] == 1
    marital = agg.breakdowns["status_kawin"]
    assert marital["jumlah"].sum() == 7


def test_age_bands_edges():
    rows = siak_rows(
        {"NIK": "3204112811190001", "TGL_LHR": "28-11-2019"},  # 4
        {"NIK": "3204112711190001", "TGL_LHR": "27-11-2019"},  # 5
        {"NIK": "3204110101400001", "TGL_LHR": "01-01-1940"},  # 84
    )
    bands = aggregate(dp4_from_frame(rows, DAY).population, "x").breakdowns["umur"]
    assert dict(zip(bands["umur"], bands["jumlah"], strict=True)) == {
        "00-04": 1,
        "05-09": 1,
        "75+": 1,
    }


def test_broken_aggregates_are_refused():
    agg = aggregate(population(), "2024-S2")
    agg.levels["kecamatan"].loc[0, "laki_laki"] += 1
    with pytest.raises(InvariantError, match="L \\+ P != jumlah"):
        check_invariants(agg)


def test_semester_from_a_date():
    assert semester_of(dt.date(2025, 6, 30)) == "2025-S1"
    assert semester_of(dt.date(2025, 7, 1)) == "2025-S2"


def test_aggregate_command_and_export_agree(tmp_path):
    runner = CliRunner()
    args = [str(SAMPLE / "siak_sample.csv"), "--election-date", "2024-11-27"]
    alone = runner.invoke(app, ["aggregate", *args, "--out", str(tmp_path / "a")])
    full = runner.invoke(app, ["export", *args, "--out", str(tmp_path / "e"), "--no-excel"])
    assert alone.exit_code == 1 and full.exit_code == 1
    assert not (tmp_path / "a" / "dp4").exists()
    a = pq.read_table(tmp_path / "a" / "dak2.parquet").to_pandas()
    e = pq.read_table(tmp_path / "e" / "dak2.parquet").to_pandas()
    assert a.equals(e)
    manifest = json.loads((tmp_path / "e" / "manifest.json").read_text())
    assert manifest["semester"] == "2024-S2"
    assert manifest["dak2"]["pemilih_jumlah"] == manifest["counts"]["dp4"]
    meta = pq.read_schema(tmp_path / "a" / "dak2.parquet").metadata
    assert meta[b"semester"] == b"2024-S2"
    bad = runner.invoke(app, ["aggregate", *args, "--out", str(tmp_path / "b"), "--semester", "S2"])
    assert bad.exit_code == 2 and "--semester: expected a semester like 2025-S2" in bad.output


@pytest.mark.slow
def test_aggregate_takes_the_options_that_change_who_votes(tmp_path):
    """Revoked rights and merged K3 pairs change the voters: aggregate takes the same options
    as export, and with them counts the same voters."""
    frame = pd.read_csv(SAMPLE / "siak_sample.csv", dtype="string", keep_default_na=False)
    revoked = tmp_path / "dicabut.txt"
    revoked.write_text("\n".join(frame["NIK"].iloc[[3, 5, 8]]) + "\n")
    runner = CliRunner()
    args = [str(SAMPLE / "siak_sample.csv"), "--election-date", "2024-11-27",
            "--exclude-nik", str(revoked), "--merge-fuzzy", "0.99"]  # fmt: skip
    alone = runner.invoke(app, ["aggregate", *args, "--out", str(tmp_path / "a")])
    full = runner.invoke(app, ["export", *args, "--out", str(tmp_path / "e"), "--no-excel"])
    assert alone.exit_code == 1 and full.exit_code == 1, alone.output
    a = pq.read_table(tmp_path / "a" / "dak2.parquet").to_pandas()
    e = pq.read_table(tmp_path / "e" / "dak2.parquet").to_pandas()
    assert a.equals(e)
    plain = runner.invoke(app, ["aggregate", *args[:3], "--out", str(tmp_path / "p")])
    voters = {k: json.loads((tmp_path / k / "manifest.json").read_text())["dak2"]["pemilih_jumlah"]
              for k in ("a", "p")}  # fmt: skip
    assert plain.exit_code == 1 and voters["a"] < voters["p"]
