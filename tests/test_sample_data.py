"""The committed sample data: its expected validation result and the generator's truth."""

from __future__ import annotations

import pandas as pd
import pyarrow.compute as pc
import pyarrow.csv as pv
import pytest

from dp4kit.sample.siak import generate
from dp4kit.validation import validate

from conftest import AS_OF, EXPECTED, SAMPLE

CASES = {
    "siak_sample.csv": ([SAMPLE / "siak_sample.csv"], {}),
    "siak_sample.xlsx": ([SAMPLE / "siak_sample.xlsx"], {}),
    "siak_penduduk.csv+siak_keluarga.csv": (
        [SAMPLE / "siak_penduduk.csv"],
        {"keluarga": SAMPLE / "siak_keluarga.csv"},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sample_matches_its_expected_result(name):
    paths, kwargs = CASES[name]
    report = validate(paths, as_of=AS_OF, **kwargs).to_dict()
    assert report["summary"] == EXPECTED[name]["summary"]
    assert {r["code"]: r["rows"] for r in report["rules"]} == EXPECTED[name]["rules"]


def test_every_error_row_is_the_one_the_generator_broke():
    truth = pv.read_csv(SAMPLE / "siak_sample.truth.csv").to_pandas()
    expected = {
        int(r): a
        for r, a in zip(truth.baris, truth.aturan_error, strict=True)
        if isinstance(a, str) and a
    }
    report = validate([SAMPLE / "siak_sample.csv"], as_of=AS_OF)
    errors = report.failures.filter(pc.equal(report.failures["severity"], "error"))
    found = dict(zip(errors["row"].to_pylist(), errors["rule"].to_pylist(), strict=True))
    assert found == expected
    assert len(found) == EXPECTED["siak_sample.csv"]["summary"]["rows_with_errors"]


def test_generator_families_and_duplicates():
    table, truth = generate(rows=2000, seed=5, invalid_share=0.0, duplicate_share=0.04)
    kinds = truth["jenis_duplikat"].to_pylist()
    assert table.num_rows == 2000
    assert {k: kinds.count(k) for k in ("D", "K1", "K2", "K3")} == {
        "D": 40,
        "K1": 40,
        "K2": 40,
        "K3": 40,
    }
    assert kinds.count("KEMBAR") % 2 == 0 and kinds.count("KEMBAR") > 0
    frame = table.to_pandas()[[role != "salinan" for role in truth["peran"].to_pylist()]]
    heads = frame[frame.STAT_HBKEL == "1"]
    assert heads.NO_KK.is_unique  # one head per family card
    women = frame[frame.JENIS_KLMIN == "2"]
    assert (women.NIK.str[6:8].astype(int) > 40).all()


def test_generated_siblings_are_born_apart_and_named_apart():
    """Children of one KK as real families have them: only twins share a birth date, the
    others are born at least 300 days apart, and no two share a given name."""
    table, truth = generate(rows=5000, seed=9)
    frame = table.to_pandas()[[role != "salinan" for role in truth["peran"].to_pylist()]]
    kids = frame[frame.STAT_HBKEL == "4"].copy()
    kids["born"] = pd.to_datetime(kids.TGL_LHR, format="%d-%m-%Y", errors="coerce")
    kids["given"] = kids.NAMA_LGKP.str.replace(r"^(SITI|MUHAMMAD) ", "", regex=True)
    kids["given"] = kids["given"].str.split().str[0]
    kids = kids.dropna(subset=["born"]).sort_values(["NO_KK", "born"])
    gaps = kids.groupby("NO_KK").born.diff().dt.days.dropna()
    twins = truth["jenis_duplikat"].to_pylist().count("KEMBAR")
    assert len(gaps) > 500 and ((gaps == 0) | (gaps >= 300)).all()
    assert 0 < (gaps == 0).sum() <= twins // 2
    assert not kids.duplicated(["NO_KK", "given"]).any()


def test_regencies_generated_with_different_nik_serial_bases_share_no_nik():
    first, _ = generate(2000, seed=5, kabkota="32.04")
    second, _ = generate(2000, seed=6, kabkota="32.73", nik_serial_base=1000)
    niks = second.column("NIK").to_pylist()
    serials = [int(n[12:]) for n in niks if n and len(n) == 16 and n.isdigit()]
    assert min(serials) > 1000
    assert set(first.column("NIK").to_pylist()) & set(second.column("NIK").to_pylist()) <= {""}


def test_a_typo_changes_one_letter_and_leaves_an_empty_name_empty():
    import numpy as np

    from dp4kit.sample.values import typo

    names = typo(np.array(["", "BUDI SANTOSO"], dtype=object), np.random.default_rng(1))
    assert names[0] == ""  # a deliberate error row of the generator: no letter to change
    changed = [a != b for a, b in zip(names[1], "BUDI SANTOSO", strict=True)]
    assert sum(changed) == 1


def test_the_province_generator_says_what_it_planted_across_regencies(tmp_path):
    from dp4kit.sample.regions import CHANGED, planted_truth, write_regencies

    paths = write_regencies(tmp_path, rows=3000, regencies=3, moved_share=0.01, workers=1)
    truth = planted_truth(tmp_path)
    assert truth.groupby(["jenis", "kabkota"]).size().to_dict() == {
        (kind, kab): 10 for kind in ("K1", "K2", "K3") for kab in ("32.01", "32.04", "32.73")
    }
    rows = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths}
    kota = truth[truth["kabkota"] == "32.73"]  # planted into Kota Bandung from Kab. Bandung
    there, source = rows["siak_3273"], rows["siak_3204"]
    assert kota["nik"].isin(there["NIK"]).all() and kota["nik_asal"].isin(source["NIK"]).all()
    moved, reused, again = (kota[kota["jenis"] == k] for k in ("K1", "K2", "K3"))
    assert (moved["nik"] == moved["nik_asal"]).all() and (reused["nik"] == reused["nik_asal"]).all()
    # a new NIK of the regency it moved to, the original's date part kept, serial from 9000
    assert (again["nik"] != again["nik_asal"]).all()
    assert (again["nik"].str[:4] == "3273").all() and (again["nik"].str[12:] >= "9000").all()
    assert (again["nik"].str[6:12] == again["nik_asal"].str[6:12]).all()
    assert set(again["varian"]) <= {"", *CHANGED} and (again["varian"] != "").sum() == 5
