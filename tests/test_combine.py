"""`dp4kit combine`: planted cross-regency K1/K2 found and named, the accounting balanced over
every run, the result verifies, and incompatible runs are refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dp4kit.io.sources import file_sha256

from conftest import folder_checksums, invoke, siak_rows

DAY = "2024-11-27"
KOTA = {
    "NO_PROP": "32",
    "NO_KAB": "73",
    "NO_KEC": "1",
    "NO_KEL": "1001",
    "NO_KK": "3273010101200001",
}
BUDI = {}  # 3204110609970001, Kabupaten Bandung
AGUS = {"NIK": "3204110101800004", "NAMA_LGKP": "AGUS SALIM", "TGL_LHR": "01-01-1980"}
SITI = {"NIK": "3204114509990002", "NAMA_LGKP": "SITI AMINAH", "JENIS_KLMIN": "2",
        "TGL_LHR": "05-09-1999"}  # fmt: skip


def export(tmp_path, name, *rows):
    path = tmp_path / f"{name}.csv"
    siak_rows(*rows).to_csv(path, index=False)
    result = invoke("export", path, "--out", tmp_path / name, "--election-date", DAY, "--no-excel")
    assert result.exit_code in (0, 1), result.output
    return tmp_path / name


@pytest.fixture
def runs(tmp_path):
    kab = export(tmp_path, "kab", BUDI, SITI, AGUS)
    kota = export(
        tmp_path,
        "kota",
        {**KOTA, "ALAMAT": "JL. ASIA AFRIKA 8"},  # Budi moved: on both lists (K1)
        {**KOTA, **SITI, "NAMA_LGKP": "RATNA SARI"},  # another woman under Siti's NIK (K2)
        {**KOTA, **AGUS, "NIK": "3273010101800005"},  # Agus again under another NIK (K3)
        {**KOTA, "NIK": "3273014107850003", "NAMA_LGKP": "DEWI", "JENIS_KLMIN": "2",
         "TGL_LHR": "01-07-1985"},
    )  # fmt: skip
    return kab, kota


def test_cross_regency_findings_are_named_and_taken_off_the_list(tmp_path, runs):
    result = invoke("combine", *runs, "--out", tmp_path / "prov")
    assert result.exit_code == 1, result.output  # findings: alert
    assert "cross-regency rows: K1 2, K2 2, K3 2" in result.output
    prov = tmp_path / "prov"
    dup = pq.read_table(prov / "duplicates.parquet").to_pandas()
    cross = dup[dup["group_id"].str.startswith("LINTAS")]
    assert cross[["kind", "group_id", "action", "sumber_file", "kabkota_lain"]].values.tolist() == [
        ["K1", "LINTAS-K1-000001", "kept", str(tmp_path / "kab.csv"), "32.73 Kota Bandung"],
        ["K1", "LINTAS-K1-000001", "removed", str(tmp_path / "kota.csv"),
         "32.04 Kabupaten Bandung"],
        ["K2", "LINTAS-K2-000002", "held", str(tmp_path / "kab.csv"), "32.73 Kota Bandung"],
        ["K2", "LINTAS-K2-000002", "held", str(tmp_path / "kota.csv"), "32.04 Kabupaten Bandung"],
        ["K3", "LINTAS-K3-000003", "review", str(tmp_path / "kab.csv"), "32.73 Kota Bandung"],
        ["K3", "LINTAS-K3-000003", "review", str(tmp_path / "kota.csv"),
         "32.04 Kabupaten Bandung"],
    ]  # fmt: skip
    assert cross["reason"].iloc[0] == (
        "NIK sama di 32.04 Kabupaten Bandung | 32.73 Kota Bandung; orang sama, dipertahankan"
    )
    assert cross["reason"].iloc[4] == (
        "mirip di 32.04 Kabupaten Bandung | 32.73 Kota Bandung "
        "(nama sama, tanggal lahir sama, tempat lahir sama, "
        "alamat sama di desa lain); NIK berbeda, perlu ditinjau"
    )
    manifest = json.loads((prov / "manifest.json").read_text())
    assert manifest["counts"] == {"input_rows": 7, "dp4": 4, "excluded": 0, "rejected": 0,
                                  "removed": 1, "held": 2, "balanced": True}  # fmt: skip
    assert manifest["duplicates"] == {"LINTAS-K1/kept": 1, "LINTAS-K1/removed": 1,
                                      "LINTAS-K2/held": 2, "LINTAS-K3/review": 2}  # fmt: skip
    assert [i["rows"] for i in manifest["inputs"]] == [3, 4]
    assert invoke("verify", prov).exit_code == 0
    dp4 = pq.read_table(prov / "dp4").column("nik").to_pylist()
    # Budi once, Agus under both NIKs (for review), Dewi
    assert sorted(dp4) == ["3204110101800004", "3204110609970001", "3273010101800005",
                           "3273014107850003"]  # fmt: skip
    # the person files beside the parts lose the same rows: a combined result combines again
    assert pq.read_table(prov / "k3_people").column("nik").to_pylist() == dp4
    dak2 = pq.read_table(prov / "dak2.parquet").to_pandas().set_index("kode_kecamatan")
    assert dak2.loc["32.04.11", ["jumlah", "pemilih_jumlah"]].tolist() == [3, 2]  # Siti held
    assert dak2.loc["32.73.01", ["jumlah", "pemilih_jumlah", "pemilih_perempuan"]].tolist() == [
        4, 2, 1]  # residents as registered; voters: Agus and Dewi  # fmt: skip
    nation = pq.read_table(prov / "agregat_nasional.parquet").to_pylist()[0]
    assert (nation["jumlah"], nation["pemilih_jumlah"]) == (7, 4)


RATNA = {"NIK": "3204115203750002", "NAMA_LGKP": "RATNA KUSUMAWATI", "JENIS_KLMIN": "2",
         "TGL_LHR": "12-03-1975"}  # fmt: skip


@pytest.mark.parametrize("fuzzy", [True, False])
def test_one_person_under_two_niks_with_a_typo_is_found_by_k3s_model(tmp_path, fuzzy):
    kab = export(tmp_path, "kab", BUDI, RATNA, AGUS)
    kota = export(tmp_path, "kota", {**KOTA, **RATNA, "NIK": "3273015203750003",
                                     "NAMA_LGKP": "RATNA KUSUMAWARI"},  # again, with a typo
                  {**KOTA, **AGUS, "NIK": "3273010101800005"},  # again, exactly
                  {**KOTA, "NIK": "3273010202910006", "NAMA_LGKP": "AGUS SALIM",
                   "TGL_LHR": "02-02-1991", "TMPT_LHR": "MEDAN", "ALAMAT": "JL. SUDIRMAN 9",
                   "NO_KK": "3273010101200009"})  # a namesake born elsewhere  # fmt: skip
    flag = "--fuzzy" if fuzzy else "--no-fuzzy"
    result = invoke("combine", kab, kota, "--out", tmp_path / "prov", flag)
    assert result.exit_code == 1, result.output
    dup = pq.read_table(tmp_path / "prov" / "duplicates.parquet").to_pandas()
    cross = dup[dup["group_id"].str.startswith("LINTAS")]
    exact = [["LINTAS-K3-000001", "3204110101800004", "review", None],
             ["LINTAS-K3-000001", "3273010101800005", "review", None]]  # fmt: skip
    kab_label, kota_label = "32.04 Kabupaten Bandung", "32.73 Kota Bandung"
    alike = [["LINTAS-K3-000002", "3204115203750002", "review", kota_label],
             ["LINTAS-K3-000002", "3273015203750003", "review", kab_label]]  # fmt: skip
    got = cross[["group_id", "nik", "action", "kabkota_lain"]].values.tolist()
    assert [r[:3] for r in got] == [r[:3] for r in exact + (alike if fuzzy else [])]
    manifest = json.loads((tmp_path / "prov" / "manifest.json").read_text())
    across = manifest["k3"]["across_regencies"]
    if not fuzzy:
        assert across == {"compared": "the same normalised name, birth date and sex only"}
        assert cross["reason"].iloc[0] == ("nama, tanggal lahir dan jenis kelamin sama di 32.04 "
                                           "Kabupaten Bandung | 32.73 Kota Bandung; NIK berbeda, "
                                           "perlu ditinjau")  # fmt: skip
        assert cross["score"].isna().all()  # the exact rule has no probability
        return
    assert got[2:] == alike
    reason, score = cross["reason"].iloc[2], cross["score"].iloc[2]
    assert reason.startswith("mirip di 32.04 Kabupaten Bandung | 32.73 Kota Bandung (")
    assert "nama mirip" in reason and reason.endswith("); NIK berbeda, perlu ditinjau")
    assert 0.5 <= score < 1 and cross["score"].iloc[3] == score
    # Agus again exactly: found by the model too, and more surely than Ratna with a typo
    assert cross["reason"].iloc[0].startswith("mirip di ") and cross["score"].iloc[0] > score
    assert across["model_source"] == "packaged"  # 7 voters: too few to train on
    assert (across["pairs_found"], across["review_probability"]) == (2, 0.5)
    assert manifest["duplicates"]["LINTAS-K3/review"] == 4
    assert RATNA["NIK"] in pq.read_table(tmp_path / "prov" / "dp4").column("nik").to_pylist()
    assert invoke("verify", tmp_path / "prov").exit_code == 0


def test_the_mothers_name_in_the_person_files_keeps_a_look_alike_apart(tmp_path):
    kab = export(tmp_path, "kab", {**RATNA, "NAMA_LGKP_IBU": "SITI HALIMAH"},
                 {**AGUS, "NAMA_LGKP_IBU": "MARYAM"})  # fmt: skip
    kota = export(tmp_path, "kota", {**KOTA, **RATNA, "NIK": "3273015203750003",
                                     "NAMA_LGKP": "RATNA KUSUMAWARI",
                                     "NAMA_LGKP_IBU": "SITI HALIMAH"},  # she, with a typo
                  {**KOTA, **AGUS, "NIK": "3273010101800005", "NAMA_LGKP": "AGUS SALIN",
                   "NAMA_LGKP_IBU": "KARTINI"})  # alike, another mother: someone else  # fmt: skip
    assert invoke("combine", kab, kota, "--out", tmp_path / "prov", "--fuzzy").exit_code == 1
    dup = pq.read_table(tmp_path / "prov" / "duplicates.parquet").to_pandas()
    cross = dup[dup["group_id"].str.startswith("LINTAS")]
    assert cross[["group_id", "nik"]].values.tolist() == [
        ["LINTAS-K3-000001", "3204115203750002"],
        ["LINTAS-K3-000001", "3273015203750003"],
    ]
    assert "nama ibu sama" in cross["reason"].iloc[0]
    across = json.loads((tmp_path / "prov" / "manifest.json").read_text())["k3"]["across_regencies"]
    assert (
        across["compared"] == "K3's model, between voters of different runs, with the mother's name"
    )
    assert across["kept_apart"] == {"kembar_saudara_atau_jenis_kelamin": 0, "nama_ibu_berbeda": 1}


@pytest.mark.parametrize(("his", "hers", "sex"), [
    ("PUTRA WIJAYA", "PUTRI WIJAYA", "2"),  # boy and girl, one letter apart
    ("HASAN WIJAYA", "HUSEIN WIJAYA", "1"),  # rhyming, the same sex
])  # fmt: skip
def test_twins_in_two_regencies_stay_two_people(tmp_path, his, hers, sex):
    born = {"TGL_LHR": "15-03-1990", "NAMA_LGKP_IBU": "SITI HALIMAH", "TMPT_LHR": "GARUT"}
    kab = export(tmp_path, "kab", {**born, "NIK": "3204111503900001", "NAMA_LGKP": his})
    day = "55" if sex == "2" else "15"  # a woman's NIK: day + 40
    kota = export(tmp_path, "kota", {**KOTA, **born, "NIK": f"327301{day}03900002",
                                     "NAMA_LGKP": hers, "JENIS_KLMIN": sex})  # fmt: skip
    assert invoke("combine", kab, kota, "--out", tmp_path / "prov").exit_code == 0
    dup = pq.read_table(tmp_path / "prov" / "duplicates.parquet").to_pandas()
    assert not dup["group_id"].str.startswith("LINTAS").any()
    across = json.loads((tmp_path / "prov" / "manifest.json").read_text())["k3"]["across_regencies"]
    assert across["kept_apart"] == {"kembar_saudara_atau_jenis_kelamin": 1, "nama_ibu_berbeda": 0}


def test_a_run_written_before_person_files_is_compared_without_the_mothers_name(tmp_path):
    import shutil

    kab = export(tmp_path, "kab", {**RATNA, "NAMA_LGKP_IBU": "SITI HALIMAH"})
    kota = export(tmp_path, "kota", {**KOTA, **RATNA, "NIK": "3273015203750003",
                                     "NAMA_LGKP": "RATNA KUSUMAWARI",
                                     "NAMA_LGKP_IBU": "KARTINI"})  # fmt: skip
    shutil.rmtree(kota / "k3_people")  # as an older dp4kit wrote it
    path = kota / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["outputs"] = [o for o in manifest["outputs"] if not o["path"].startswith("k3_people/")]
    path.write_text(json.dumps(manifest))
    assert invoke("combine", kab, kota, "--out", tmp_path / "prov", "--fuzzy").exit_code == 1
    dup = pq.read_table(tmp_path / "prov" / "duplicates.parquet").to_pandas()
    found = dup.loc[dup["group_id"].str.startswith("LINTAS"), "nik"].tolist()
    assert found == ["3204115203750002", "3273015203750003"]  # her other mother is not known
    across = json.loads((tmp_path / "prov" / "manifest.json").read_text())["k3"]["across_regencies"]
    assert across["compared"].endswith("with the mother's name where a run has person files "
                                       "(k3_people/)")  # fmt: skip
    written = sorted(p.relative_to(tmp_path / "prov").as_posix()
                     for p in (tmp_path / "prov").glob("*/*.parquet"))  # fmt: skip
    assert written == ["dp4/32.04.11.parquet", "dp4/32.73.01.parquet",
                       "k3_people/32.04.11.parquet"]  # fmt: skip
    assert invoke("verify", tmp_path / "prov").exit_code == 0


def test_a_person_file_that_does_not_match_its_part_is_refused_in_one_line(tmp_path, runs):
    kota = runs[1]
    person = kota / "k3_people" / "32.73.01.parquet"
    pq.write_table(pq.read_table(person).slice(0, 2), person)  # a row short of its dp4 part
    path = kota / "manifest.json"
    manifest = json.loads(path.read_text())
    for out in manifest["outputs"]:  # a manifest that agrees: only the rows can tell
        if out["path"] == "k3_people/32.73.01.parquet":
            out["rows"], out["sha256"] = 2, file_sha256(person)
    path.write_text(json.dumps(manifest))
    result = invoke("combine", *runs, "--out", tmp_path / "prov")
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.endswith("kota: k3_people/32.73.01.parquet does not hold the voters "
                                  "of dp4/32.73.01.parquet row for row; export the regency "
                                  "again\n")  # fmt: skip


def test_a_look_alike_that_is_the_only_cross_regency_finding(tmp_path):
    kab = export(tmp_path, "kab", BUDI, RATNA)
    kota = export(tmp_path, "kota", {**KOTA, **RATNA, "NIK": "3273015203750003",
                                     "NAMA_LGKP": "RATNA KUSUMAWARI"})  # fmt: skip
    result = invoke("combine", kab, kota, "--out", tmp_path / "prov", "--fuzzy")
    assert "cross-regency rows: K3 2" in result.output, result.output
    dup = pq.read_table(tmp_path / "prov" / "duplicates.parquet").to_pandas()
    cross = dup[dup["group_id"].str.startswith("LINTAS")]
    assert cross[["group_id", "nik"]].values.tolist() == [
        ["LINTAS-K3-000001", "3204115203750002"],
        ["LINTAS-K3-000001", "3273015203750003"],
    ]
    assert invoke("verify", tmp_path / "prov").exit_code == 0


def test_a_nik_on_one_list_and_on_another_regencys_excluded_list_is_for_review(tmp_path):
    rudi = {"NIK": "3204110505800001", "NAMA_LGKP": "RUDI HARTONO", "TGL_LHR": "05-05-1980"}
    wati = {
        "NIK": "3204115010900001",
        "NAMA_LGKP": "WATI",
        "JENIS_KLMIN": "2",
        "TGL_LHR": "10-10-1990",
    }
    eko = {"NIK": "3204110303850001", "NAMA_LGKP": "EKO", "TGL_LHR": "03-03-1985"}
    kab = export(tmp_path, "kab", rudi, wati, eko)
    kota = export(
        tmp_path,
        "kota",
        {**KOTA, **rudi, "JENIS_PKRJN": "6"},  # Rudi is TNI there: the same person
        {**KOTA, **wati, "NAMA_LGKP": "YANTI", "JENIS_PKRJN": "7"},  # another woman, POLRI
        {**KOTA, **eko, "FLAG_STATUS": "1"},  # Eko moved: inactive there, no conflict
    )  # fmt: skip
    result = invoke("combine", kab, kota, "--out", tmp_path / "prov")
    assert result.exit_code == 1, result.output
    dup = pq.read_table(tmp_path / "prov" / "duplicates.parquet").to_pandas()
    cross = dup[dup["group_id"].str.startswith("LINTAS")]
    assert cross[["kind", "group_id", "action", "nama", "kabkota_lain"]].values.tolist() == [
        ["K1", "LINTAS-K1-000001", "review", "RUDI HARTONO", "32.73 Kota Bandung"],
        ["K1", "LINTAS-K1-000001", "review", "RUDI HARTONO", "32.04 Kabupaten Bandung"],
        ["K2", "LINTAS-K2-000002", "review", "WATI", "32.73 Kota Bandung"],
        ["K2", "LINTAS-K2-000002", "review", "YANTI", "32.04 Kabupaten Bandung"],
    ]  # fmt: skip
    assert cross["reason"].tolist()[1:3] == [
        "NIK sama di 32.04 Kabupaten Bandung | 32.73 Kota Bandung; dikecualikan di 32.73 Kota "
        "Bandung (TNI); orang sama, perlu ditinjau",
        "NIK sama di 32.04 Kabupaten Bandung | 32.73 Kota Bandung; dikecualikan di 32.73 Kota "
        "Bandung (POLRI); orang berbeda, perlu ditinjau",
    ]
    manifest = json.loads((tmp_path / "prov" / "manifest.json").read_text())
    assert manifest["counts"] == {"input_rows": 6, "dp4": 3, "excluded": 3, "rejected": 0,
                                  "removed": 0, "held": 0, "balanced": True}  # fmt: skip


def test_parts_no_finding_touches_are_copied_byte_for_byte(tmp_path, runs):
    other = export(tmp_path, "kota2", {**KOTA, "NIK": "3273014107850003", "NAMA_LGKP": "DEWI",
                                       "JENIS_KLMIN": "2", "TGL_LHR": "01-07-1985"})  # fmt: skip
    assert invoke("combine", runs[0], other, "--out", tmp_path / "p").exit_code == 0
    part = "dp4/32.73.01.parquet"
    assert file_sha256(tmp_path / "p" / part) == file_sha256(other / part)


def later_election(tmp):
    result = invoke("export", tmp / "kota.csv", "--out", tmp / "late", "--election-date",
                    "2025-01-01", "--no-excel")  # fmt: skip
    assert result.exit_code in (0, 1)
    return tmp / "late"


def masked(tmp):
    invoke("export", tmp / "kota.csv", "--out", tmp / "masked", "--election-date", DAY,
           "--no-excel", "--mask")  # fmt: skip
    return tmp / "masked"


def aggregate_only(tmp):
    invoke("aggregate", tmp / "kota.csv", "--out", tmp / "agg", "--election-date", DAY,
           "--no-excel")  # fmt: skip
    return tmp / "agg"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (later_election, "made with election date 2025-01-01, not 2024-11-27"),
        (masked, "NIKs are masked"),
        (lambda tmp: tmp / "kab", "both cover kab/kota 32.04"),
        (aggregate_only, "an aggregate-only run"),
    ],
)
def test_incompatible_runs_are_refused_in_one_line(tmp_path, runs, make, message):
    other = make(tmp_path)
    result = invoke("combine", runs[0], other, "--out", tmp_path / "p")
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "p").exists()


def test_a_run_that_does_not_verify_is_refused(tmp_path, runs):
    (runs[1] / "excluded.parquet").write_bytes(b"changed")
    result = invoke("combine", *runs, "--out", tmp_path / "p")
    assert result.exit_code == 2
    assert "does not match its manifest (changed: excluded.parquet" in result.output
    assert invoke("combine", runs[0], "--out", tmp_path / "p").exit_code == 2  # one run


def test_the_result_never_replaces_a_run(tmp_path, runs):
    before = (runs[1] / "manifest.json").read_bytes()
    result = invoke("combine", *runs, "--out", runs[1])
    assert result.exit_code == 2 and "choose another --out" in result.output
    assert (runs[1] / "manifest.json").read_bytes() == before


def test_an_unreadable_part_is_one_line_without_the_data(tmp_path, runs, monkeypatch):
    import pyarrow as pa

    def broken(*args, **kwargs):
        raise pa.ArrowInvalid("Failed to parse string: '3204110609970001' as a scalar")

    monkeypatch.setattr(
        "dp4kit.regions.cross_regency.scan_part", broken
    )  # a part read after verify
    result = invoke("combine", *runs, "--out", tmp_path / "p")
    assert result.exit_code == 2
    assert result.output == "dp4kit: error: cannot read a run's DP4 to combine: ArrowInvalid\n"


def test_a_killed_combine_leaves_nothing_the_next_one_trips_on(tmp_path, runs):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that is gone, as a kill -9 leaves it
    work = tmp_path / f".prov.tmp-{dead.pid}"
    (work / "dp4").mkdir(parents=True)
    (work / "dp4" / "half.parquet").write_bytes(b"half written")
    assert invoke("combine", *runs, "--out", tmp_path / "prov").exit_code == 1
    assert not work.exists() and invoke("verify", tmp_path / "prov").exit_code == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_combine_killed_in_k3_across_runs_leaves_its_people_file_for_the_next_to_remove(
        tmp_path, runs):  # fmt: skip
    import signal
    import subprocess
    import sys

    prov = tmp_path / "prov"
    assert invoke("combine", *runs, "--out", prov, "--fuzzy").exit_code == 1
    before = folder_checksums(prov)
    driver = Path(__file__).with_name("fault_driver.py")
    killed = subprocess.run([sys.executable, str(driver), "k3-pairs", str(tmp_path), "combine",
                             *map(str, runs), "--out", str(prov), "--fuzzy"],
                            capture_output=True, timeout=120)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    folder = Path((tmp_path / "k3-folder").read_text())  # K3's pairs: in the work folder
    assert folder.parent.name == ".k3" and folder.parent.parent.name.startswith(".prov.tmp-")
    people = folder.parent / "people.arrow"  # the voters, memory-mapped: private
    assert people.stat().st_mode & 0o777 == 0o600 and folder.parent.stat().st_mode & 0o777 == 0o700
    assert folder_checksums(prov) == before  # the previous result is untouched
    assert invoke("combine", *runs, "--out", prov, "--fuzzy").exit_code == 1
    assert folder_checksums(prov) == before  # the same result again
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_full_disk_while_k3_across_runs_writes_its_people_is_one_line(tmp_path, runs,
                                                                        monkeypatch):  # fmt: skip
    import pyarrow as pa

    prov = tmp_path / "prov"
    assert invoke("combine", *runs, "--out", prov).exit_code == 1
    before = folder_checksums(prov)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pa.ipc, "new_file", full)
    result = invoke("combine", *runs, "--out", prov, "--fuzzy")
    assert result.exit_code == 2
    assert result.output.startswith("dp4kit: error: ") and result.output.count("\n") == 1
    assert result.output.endswith("people.arrow: cannot write K3's people file: "
                                  "No space left on device\n")  # fmt: skip
    assert folder_checksums(prov) == before  # the previous result is kept
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_hand_edited_manifest_without_a_valid_election_date_is_refused(tmp_path, runs):
    path = runs[1] / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["parameters"]["election_date"] = "kemarin"
    path.write_text(json.dumps(manifest))
    result = invoke("combine", *runs, "--out", tmp_path / "p")
    assert result.exit_code == 2
    assert result.output.endswith("kota: the manifest's election date is malformed\n")


@pytest.mark.slow
def test_partitions_change_nothing_in_the_result(tmp_path, province):
    from dp4kit.regions.combine import combine

    whole = combine(province, tmp_path / "whole", partitions=1, fuzzy=True)
    split = combine(province, tmp_path / "split", partitions=7, fuzzy=True)
    counts = whole.findings.groupby(["kind", "action"]).size().to_dict()
    # 10 planted per kind and pair of regencies (3 pairs): every move (K1) found; a few of
    # the reused NIKs (K2) and new NIKs (K3) are rejected or excluded in their regency
    assert counts == {("K1", "kept"): 30, ("K1", "removed"): 30, ("K2", "held"): 58,
                      ("K3", "review"): 48}  # fmt: skip
    # every K3 group is K3's model's, each a planted person registered again (the same, with a
    # typo, words in another order, a title): 24 groups, where the person key finds 18
    k3 = whole.findings[whole.findings["kind"] == "K3"]
    assert k3["reason"].str.startswith("mirip di ").all() and (k3["score"] >= 0.5).all()
    planted = k3["nik"].str.slice(12).astype(int) >= 9000  # write_regencies' new NIKs
    by_group = planted.groupby(k3["group_id"]).agg(["sum", "size"])
    assert len(by_group) == 24 and (by_group["sum"] == 1).all() and (by_group["size"] == 2).all()
    same = k3["nik"].str.slice(6, 12).groupby(k3["group_id"]).nunique()  # the original's date
    assert (same == 1).all()
    assert split.findings.equals(whole.findings)
    assert folder_checksums(tmp_path / "whole") == folder_checksums(tmp_path / "split")
    assert not (tmp_path / "split" / ".partitions").exists()


def test_the_memory_limit_sets_the_partitions(tmp_path, province, monkeypatch):
    from dp4kit.regions import combine as module

    seen = []
    real = module.cross_regency
    monkeypatch.setattr(module, "cross_regency", lambda r, n, *a: seen.append(n) or real(r, n, *a))
    monkeypatch.setattr(module, "BYTES_PER_VOTER", 2_000_000)  # as if a voter took 2 MB
    result = invoke("combine", *province, "--out", tmp_path / "p", "--memory-limit", "2G")
    assert "DONE WITH FINDINGS" in result.output, result.output
    voters = sum(json.loads((r / "manifest.json").read_text())["counts"]["dp4"] for r in province)
    assert seen == [-(-voters * 2_000_000 // ((2 << 30) - (1 << 30)))]
    assert seen[0] > 1


@pytest.mark.parametrize("limit", ["lots", "900M", "-1G", "1G"])
def test_a_bad_memory_limit_is_one_line(tmp_path, runs, limit):
    result = invoke("combine", *runs, "--out", tmp_path / "p", "--memory-limit", limit)
    assert result.exit_code == 2
    assert result.output.startswith("dp4kit: error: --memory-limit: ")
    assert result.output.count("\n") == 1


def test_k3_across_runs_uses_as_many_cores_as_the_memory_budget_holds(monkeypatch):
    from dp4kit.regions import cross_k3

    monkeypatch.setattr(cross_k3.os, "cpu_count", lambda: 8)
    gib = 1 << 30
    # 1.2 GB and 45 bytes per voter for this process, about 2 GB per worker
    assert [cross_k3.k3_jobs(b * gib, 1000) for b in (1.5, 2, 4, 6, 12)] == [1, 1, 1, 2, 5]
    assert [cross_k3.k3_jobs(8 * gib, v) for v in (1.4e7, 3e7, 1e8)] == [3, 2, 1]
    assert cross_k3.k3_jobs(8 * gib, 3.4e7) == 2  # Jawa Barat's voters within 8G
    # K3 at once while the budget holds 1.2 GB and 1,245 bytes per voter; by partitions above
    assert [cross_k3.k3_at_once(b * gib) for b in (1, 1.5, 12)] == [0, 282_989, 9_338_643]


def test_k3_across_runs_refuses_a_run_whose_model_was_changed(tmp_path):
    # a run's file changed after its export (here its k3_model.json) is refused by the
    # runs' checksums, in one line, before anything is written
    kab = export(tmp_path, "kab", BUDI, RATNA)
    kota = export(tmp_path, "kota", {**KOTA, **RATNA, "NIK": "3273015203750003",
                                     "NAMA_LGKP": "RATNA KUSUMAWARI"})  # fmt: skip
    (kab / "k3_model.json").write_text("{not json")
    result = invoke("combine", kab, kota, "--out", tmp_path / "prov", "--fuzzy")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1, result.output
    assert "kab: does not match its manifest (changed: k3_model.json" in result.output
    assert not (tmp_path / "prov").exists()


FREED_IN_A_THREAD = """
import threading
from pathlib import Path

import numpy as np

from dp4kit.stages import give_back_memory


def anonymous_mb():
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(x for x in status if x.startswith("RssAnon")).split()[1]) // 1024


PINS = []  # small blocks kept between the freed arrays: their memory cannot shrink away


def work():
    big = np.ones(20 << 17)  # freed: glibc then serves arrays this size from its arenas
    del big
    arrays = []
    for _ in range(300):  # 300 MB in this thread's arena
        arrays.append(np.ones(1 << 17))
        PINS.append(bytearray(2048))
    del arrays


before = anonymous_mb()
thread = threading.Thread(target=work)
thread.start()
thread.join()
held = anonymous_mb()
give_back_memory()
print(before, held, anonymous_mb())
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux's /proc")
def test_freed_memory_goes_back_to_the_system_between_stages():
    """What a thread freed stays with the C allocator (against the budget) until given back.
    In a fresh interpreter: the allocator's state is its own, not what earlier tests left."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", FREED_IN_A_THREAD], capture_output=True,
                          text=True, check=True)  # fmt: skip
    before, held, after = map(int, done.stdout.split())
    assert held > before + 150 and after < held - 150
