"""The K3 linkage model: comparison levels, blocking passes, EM, term frequency, saved models,
chains and reviewers' decisions."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from dp4kit.cli import app
from dp4kit.dedup import blocking, comparison, features, linkage
from dp4kit.dedup import model as k3_model
from dp4kit.dedup.decisions import Decisions, apply_decisions
from dp4kit.dedup.k3 import K3Options
from dp4kit.dedup.normalise import given_name, normalise_names
from dp4kit.errors import InputFileError
from dp4kit.io.given_files import read_decisions, read_k3_model
from dp4kit.validation import dp4_from_frame

from conftest import siak_rows

DAY = dt.date(2024, 11, 27)
runner = CliRunner()


def people(*rows: dict) -> pa.Table:
    """A compared-people table from dicts (nama, tanggal_lahir as YYYY-MM-DD, …)."""
    base = {"nama": "BUDI SANTOSO", "tanggal_lahir": "1990-05-17", "jenis_kelamin": "L",
            "tempat_lahir": "BANDUNG", "nkk": "3204110101100001", "alamat": "JL. MERDEKA 1",
            "kode_desa": "32.04.11.2001", "nama_ibu": "SITI AMINAH"}  # fmt: skip
    full = [{**base, **r} for r in rows]

    def col(key: str) -> pa.Array:
        return pa.array([r[key] for r in full], pa.string())

    name = normalise_names(col("nama"))
    born = [dt.date.fromisoformat(r["tanggal_lahir"]) if r["tanggal_lahir"] else None
            for r in full]  # fmt: skip
    return pa.table({
        "nik": pa.array([r.get("nik") or f"32041100000{i:05d}" for i, r in enumerate(full)]),
        "nama": col("nama"), "nama_norm": name, "nama_inti": given_name(name),
        "tanggal_lahir": pa.array(born, pa.date32()), "jenis_kelamin": col("jenis_kelamin"),
        "tempat_lahir_norm": normalise_names(col("tempat_lahir")), "nkk": col("nkk"),
        "alamat_bersih": col("alamat"), "kode_desa": col("kode_desa"),
        "nama_ibu_norm": normalise_names(col("nama_ibu")),
    })  # fmt: skip


def levels_of(first: dict, second: dict) -> dict[str, int]:
    f = features.fields_of(people(first, second))
    return {k: int(v[0]) for k, v in comparison.compare(f, np.array([0]), np.array([1])).items()}


@pytest.mark.parametrize(("a", "b", "level"), [
    ("BUDI SANTOSO", "SANTOSO BUDI", 2),  # same words, another order
    ("BUDI SANTOSO WIJAYA", "BUDI SANTOSO", 2),  # one word missing
    ("RIZKI NUGROHO", "RIZKA NUGROHO", 3),  # similar, given names similar too
    ("YANI NAINGGOLAN", "YANNI NAINGGOLAN", 4),  # equal after normalising (doubled letter)
    ("M. RIZKY", "MUHAMMAD RIZKI", 4),
    ("BUDI SANTOSO", "BUDI SANTOSO", 5),
    ("BUDI SANTOSO", "AGUS SALIM", 0),
    ("RINA WIJAYA", "DEWI WIJAYA", 0),  # a shared family name is not a similar name
    ("NICOL JACK", "JADK NICOL", 1),  # words swapped and a typo: a few letters apart sorted
    ("MHARI PATERSON", "MHARI PATESRN", 1),  # two letters swapped and one dropped
])  # fmt: skip
def test_name_levels(a, b, level):
    assert levels_of({"nama": a}, {"nama": b})["nama"] == level


@pytest.mark.parametrize(("a", "b", "level"), [
    ("1990-05-17", "1990-05-17", 5),
    ("1990-05-07", "1990-07-05", 4),  # day and month swapped
    ("1990-05-17", "1990-05-18", 3),  # one digit
    ("1990-05-17", "1990-06-02", 2),  # within a month
    ("1990-05-17", "1990-11-30", 1),  # the same year
    ("1990-05-17", "1975-02-03", 0),
    ("1990-05-17", None, -1),  # missing: no evidence
])  # fmt: skip
def test_birth_date_levels(a, b, level):
    assert levels_of({"tanggal_lahir": a}, {"tanggal_lahir": b})["tanggal_lahir"] == level


@pytest.mark.parametrize(("change", "level"), [
    ({}, 7),  # the same KK
    ({"nkk": "3204110101100002"}, 6),  # same address and desa, another KK
    ({"nkk": "3204110101100002", "alamat": "JL. MERDEKA 1 RT 2"}, 5),  # address alike
    ({"nkk": "3204110101100002", "kode_desa": "32.04.11.2002"}, 4),  # same address, other desa
    ({"nkk": "3204110101100002", "kode_desa": "32.73.01.1001"}, 4),  # … in another kab/kota
    ({"nkk": "3204110101100002", "alamat": "GG. MAWAR 3"}, 3),  # same desa
    ({"nkk": "2", "alamat": "GG. MAWAR 3", "kode_desa": "32.04.11.2002"}, 2),  # same kecamatan
    ({"nkk": "2", "alamat": "GG. MAWAR 3", "kode_desa": "32.04.05.2001"}, 1),  # same kab/kota
    ({"nkk": "2", "alamat": "GG. MAWAR 3", "kode_desa": "32.73.01.1001"}, 0),
])  # fmt: skip
def test_residence_levels(change, level):
    assert levels_of({}, change)["domisili"] == level


def test_sex_place_and_mother_levels():
    assert levels_of({}, {"jenis_kelamin": "P"})["jenis_kelamin"] == 0
    found = levels_of({}, {"tempat_lahir": "BANDUMG", "nama_ibu": "SITI AMINA"})
    assert (found["tempat_lahir"], found["nama_ibu"]) == (1, 1)
    assert levels_of({}, {"nama_ibu": None})["nama_ibu"] == -1


@pytest.mark.parametrize(("change", "passes"), [
    ({"nama": "BUDI SANTOZO", "nkk": "1", "kode_desa": "32.73.01.1001"}, {"tanggal_lahir"}),
    ({"tanggal_lahir": "1990-17-05" if False else "1990-05-07", "nkk": "1",
      "kode_desa": "32.73.01.1001"}, set()),
    ({"nama": "SANTOSO BUDI", "tanggal_lahir": None, "nkk": "1",
      "kode_desa": "32.73.01.1001"}, {"nama_terbalik"}),
    ({"nama": "VUDI SANTOSO", "tanggal_lahir": "1991-01-01"}, {"nkk"}),
    # a year off by one, in another KK and regency: the name with the day and month
    ({"tanggal_lahir": "1991-05-17", "nkk": "1", "kode_desa": "32.73.01.1001"},
     {"nama_hari_bulan"}),
])  # fmt: skip
def test_blocking_passes_find_their_kind_of_pair(change, passes):
    f = features.fields_of(people({}, change))
    _, _, _, found = blocking.block(f)
    hit = {name for name, codes in found.items() if 1 in codes.tolist()}  # pair (0, 1)
    assert passes <= hit
    if not passes:
        assert "tanggal_lahir" not in hit


def test_rare_names_near_in_spelling_are_paired_whatever_their_date_and_address():
    """A typo with a wrong birth date in another KK and kab/kota: no key is shared. Names a
    letter or two apart that begin (or end) alike are paired; not a name held by more than
    RARE_NAME people, nor names three edits apart."""
    elsewhere = {"nkk": "1", "kode_desa": "32.73.01.1001", "alamat": "GG. MAWAR 3"}
    rows = [
        {"nama": "BUDI SANTOSO"},
        {"nama": "BUDI SANTOZO", "tanggal_lahir": "1975-02-03", **elsewhere},  # ends otherwise
        {"nama": "VUDI SANTOSO", "tanggal_lahir": "1962-11-16", **elsewhere},  # begins otherwise
        {"nama": "BUDI SANTOSA WIJAYA", "tanggal_lahir": "1980-01-01", **elsewhere},
        {"nama": "AGUS SALIN", "tanggal_lahir": "1970-03-04", **elsewhere},
    ] + [{"nama": "AGUS SALIM", "tanggal_lahir": f"19{50 + i}-06-01", "nkk": str(i)}
         for i in range(blocking.RARE_NAME + 1)]  # fmt: skip
    f = features.fields_of(people(*rows))
    _, _, stats, found = blocking.block(f)
    assert found["nama_mirip_awal"].tolist() == [0 * f.n + 1]  # BUDI SANTOSO / BUDI SANTOZO
    assert found["nama_mirip_akhir"].tolist() == [0 * f.n + 2]  # BUDI SANTOSO / VUDI SANTOSO
    # (BUDI SANTOZO / VUDI SANTOSO: two edits, but neither end alike)
    assert stats["nama_mirip_awal"] == {"pairs": 1, "large_blocks": 1, "pairs_not_compared": 0}
    for name in ("tanggal_lahir", "nama_tahun", "nama_terbalik", "nama_akhir_inisial_kecamatan"):
        assert 1 not in found[name].tolist() and 2 not in found[name].tolist()


def test_a_swapped_date_is_blocked():
    f = features.fields_of(people({"tanggal_lahir": "1990-05-07"}, {"tanggal_lahir": "1990-07-05",
                                                              "nkk": "1"}))  # fmt: skip
    assert set(blocking.block(f)[3]["tanggal_tertukar"].tolist()) == {1}


def test_em_recovers_known_m_and_u():
    """A synthetic comparison table drawn from a known two-class model."""
    rng = np.random.default_rng(3)
    m = {"nama": [0.02, 0.03, 0.15, 0.3, 0.5], "tanggal_lahir": [0.02, 0.01, 0.01, 0.02, 0.04, 0.9]}
    u = {"nama": [0.97, 0.01, 0.01, 0.005, 0.005],
         "tanggal_lahir": [0.9, 0.08, 0.01, 0.005, 0.004, 0.001]}  # fmt: skip
    n, share = 200_000, 0.05
    match = rng.random(n) < share
    levels = {k: np.where(match, rng.choice(len(m[k]), n, p=m[k]),
                          rng.choice(len(u[k]), n, p=u[k])).astype(np.int8) for k in m}  # fmt: skip
    levels |= {c.name: np.full(n, -1, np.int8) for c in comparison.COMPARISONS if c.name not in m}
    full_u = {c.name: u.get(c.name, [1 / len(c.levels)] * len(c.levels))
              for c in comparison.COMPARISONS}  # fmt: skip
    start = {c.name: np.full(len(c.levels), 1 / len(c.levels)) for c in comparison.COMPARISONS}
    start |= {k: np.geomspace(1, 50, len(v)) / np.geomspace(1, 50, len(v)).sum()
              for k, v in m.items()}  # fmt: skip
    found, got_share, _ = k3_model.em(levels, full_u, n, 0.01, start, tuple(m), tuple(m))
    for k in m:
        assert np.abs(found[k] - np.array(m[k])).max() < 0.02, k
    assert abs(got_share - share) < 0.003


def _population(common: int) -> pa.Table:
    """1,200 people: one name held by `common` of them, the rest unique."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(1200):
        name = "AGUS SANTOSO" if i < common else f"ORANG{i:04d} NAMA{i:04d}"
        name = "DARSONO WIRYOSUMARTO" if i in (300, 301) else name
        rows.append({"nama": name, "tanggal_lahir": f"19{50 + i % 50:02d}-0{1 + i % 9}-1{i % 9}",
                     "nkk": f"3204{rng.integers(10**11, 10**12)}", "nama_ibu": None,
                     "kode_desa": "32.04.11.2001", "alamat": f"JL. {i}"})  # fmt: skip
    return people(*rows)


def test_agreeing_on_a_rare_name_weighs_more_than_on_a_common_one():
    table = _population(common=200)
    f = features.fields_of(table)
    model = k3_model.default_model()
    pairs = (np.array([0, 300]), np.array([1, 301]))  # AGUS SANTOSO (200 people); a rare name
    levels = comparison.compare(f, *pairs)
    _, parts = linkage.score(model, f, *pairs, levels)
    assert levels["nama"].tolist() == [5, 5]
    assert parts["nama"][1] > parts["nama"][0] + 5


def test_a_saved_model_gives_identical_pairs(tmp_path):
    table = _population(common=3)
    first = linkage.link(table, threshold=0.0)
    path = tmp_path / "k3_model.json"
    path.write_text(json.dumps(first.model.to_dict()))
    again = linkage.link(table, read_k3_model(path), threshold=0.0)
    assert first.model_source == "input" and again.model_source == "file"
    assert np.array_equal(first.left, again.left) and np.array_equal(first.right, again.right)
    assert np.array_equal(first.probability, again.probability)


def test_a_damaged_model_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "k3_model.json"
    path.write_text('{"comparisons": {"nama": {"m": [1], "u": [1]}}, "matches_per_record": 1}')
    with pytest.raises(InputFileError, match="does not match this dp4kit"):
        read_k3_model(path)


def test_a_model_of_another_version_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "k3_model.json"
    data = k3_model.default_model().to_dict() | {"format": "dp4kit-k3-model/1"}
    path.write_text(json.dumps(data))
    with pytest.raises(InputFileError, match=r"another dp4kit version \(dp4kit-k3-model/1"):
        read_k3_model(path)


def test_a_chain_of_look_alikes_is_flagged_not_merged():
    # one KK each: within one KK and birth date they would be a sibling pattern (test_twins)
    names = ["ANDIK WIJAYA", "ANDIKA WIJAYA", "ANDIKAS WIJAYA", "ANDIKASA WIJAYA",
             "ANDIKASAR WIJAYA", "ANDIKASARI WIJAYA"]  # fmt: skip
    rows = siak_rows(*[{"NIK": f"32041106099700{i + 1:02d}", "NAMA_LGKP": n,
                        "NO_KK": f"32041101011000{i + 1:02d}"}
                       for i, n in enumerate(names)])  # fmt: skip
    tables = dp4_from_frame(rows, DAY, merge_fuzzy=0.5)
    k3 = tables.duplicates[tables.duplicates["kind"] == "K3"]
    assert len(k3) == 6 and set(k3["action"]) == {"review"}
    assert k3["reason"].str.startswith("kelompok berantai 6 orang").all()


# --- decisions -------------------------------------------------------------------------------


def test_decisions_from_pairs_and_from_a_filled_in_duplicates_sheet(tmp_path):
    pairs = tmp_path / "keputusan.csv"
    pairs.write_text("nik_1,nik_2,keputusan\n2,1,sama\n3,4,BEDA\n")
    assert read_decisions(pairs).pairs.values.tolist() == [["1", "2", "SAMA"], ["3", "4", "BEDA"]]
    import pandas as pd

    sheet = pd.DataFrame({"kind": ["K3"] * 3, "group_id": ["K3-1"] * 3, "nik": ["1", "2", "3"],
                          "keputusan": ["SAMA", "SAMA", "BEDA"]})  # fmt: skip
    sheet.to_excel(tmp_path / "duplicates.xlsx", index=False)
    found = read_decisions(tmp_path / "duplicates.xlsx").pairs.values.tolist()
    assert sorted(found) == [["1", "2", "SAMA"], ["1", "3", "BEDA"], ["2", "3", "BEDA"]]
    (tmp_path / "bad.csv").write_text("nik_1,nik_2,keputusan\n1,2,MUNGKIN\n")
    with pytest.raises(InputFileError, match="SAMA or BEDA"):
        read_decisions(tmp_path / "bad.csv")


def test_applied_decisions_name_positions_and_stale_pairs():
    decisions = Decisions(pd_frame([["1", "2", "SAMA"], ["3", "4", "BEDA"], ["5", "9", "SAMA"]]))
    applied = apply_decisions(decisions, pa.array(["1", "2", "3", "4", "5"]).to_pandas())
    assert applied.same_left.tolist() == [0] and applied.same_right.tolist() == [1]
    assert applied.different.tolist() == [2 * 5 + 3]
    assert applied.counts == {"sama": 1, "beda": 1, "usang": 1}
    assert applied.stale.values.tolist() == [["5", "9", "SAMA"]]


def pd_frame(rows):
    import pandas as pd

    return pd.DataFrame(rows, columns=["nik_1", "nik_2", "keputusan"], dtype="string")


def test_decisions_merge_suppress_and_are_counted_in_the_manifest(tmp_path):
    other = "3204110609970002"
    rows = siak_rows(
        {"NAMA_LGKP": "BUDI SANTOSO"},
        {"NIK": other, "NAMA_LGKP": "BUDDI SANTOSO"},  # a K3 pair
        {"NIK": "3204110609970003", "NAMA_LGKP": "AGUS SALIM", "TGL_LHR": "06-09-1997"},
    )
    source = tmp_path / "siak.csv"
    rows.to_csv(source, index=False)
    args = ["export", str(source), "--out", str(tmp_path / "out"), "--election-date",
            "2024-11-27", "--no-excel"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["duplicates"] == {"K3/review": 2}
    decided = tmp_path / "keputusan.csv"
    decided.write_text(f"nik_1,nik_2,keputusan\n3204110609970001,{other},SAMA\n"
                       "3204110609970001,3204110609970003,SAMA\n"
                       "3204110609979999,3204110609970001,BEDA\n")  # fmt: skip
    result = runner.invoke(app, [*args, "--decisions", str(decided)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["k3"]["decisions"] == {"sama": 2, "beda": 0, "usang": 1}
    assert manifest["duplicates"] == {"K3/kept": 1, "K3/removed": 2}
    assert manifest["counts"]["balanced"] and manifest["counts"]["removed"] == 2
    assert (tmp_path / "out" / "keputusan_usang.csv").exists()
    beda = tmp_path / "beda.csv"
    beda.write_text(f"nik_1,nik_2,keputusan\n3204110609970001,{other},BEDA\n")
    assert runner.invoke(app, [*args, "--decisions", str(beda)]).exit_code == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["duplicates"] == {} and manifest["k3"]["decisions"]["beda"] == 1
    assert runner.invoke(app, ["verify", str(tmp_path / "out")]).exit_code == 0


def test_the_model_is_written_and_can_be_reused(tmp_path):
    rows = siak_rows({"NAMA_LGKP": "BUDI SANTOSO"}, {"NIK": "3204110609970002",
                                                    "NAMA_LGKP": "BUDDI SANTOSO"})  # fmt: skip
    source = tmp_path / "siak.csv"
    rows.to_csv(source, index=False)
    out = tmp_path / "out"
    args = ["export", str(source), "--election-date", "2024-11-27", "--no-excel"]
    assert runner.invoke(app, [*args, "--out", str(out)]).exit_code == 0
    saved = json.loads((out / "k3_model.json").read_text())
    assert set(saved["comparisons"]) == {c.name for c in comparison.COMPARISONS}
    assert json.loads((out / "manifest.json").read_text())["k3"]["model"].startswith("packaged")
    again = tmp_path / "again"
    result = runner.invoke(
        app, [*args, "--out", str(again), "--k3-model", str(out / "k3_model.json")]
    )
    assert result.exit_code == 0
    first = (out / "duplicates.parquet").read_bytes()
    assert first == (again / "duplicates.parquet").read_bytes()


def test_k3_options_default_and_review_threshold():
    rows = siak_rows({"NAMA_LGKP": "BUDI SANTOSO"}, {"NIK": "3204110609970002",
                                                    "NAMA_LGKP": "BUDDI SANTOSO"})  # fmt: skip
    from dp4kit.dp4 import build_dp4
    from dp4kit.io.profiles import resolve_profile, to_canonical
    from dp4kit.validation import frame_input, validate_canonical

    data = to_canonical(frame_input(rows), resolve_profile("auto", list(rows.columns)), DAY)
    report = validate_canonical(data, DAY)
    listed = build_dp4(data, report, DAY, k3=K3Options(review=0.5))
    none = build_dp4(data, report, DAY, k3=K3Options(review=1.0))
    assert len(listed.duplicates) == 2 and len(none.duplicates) == 0


def test_a_large_block_is_compared_in_a_window_so_pairs_grow_linearly():
    key = np.array([7] * 20 + [3] * 3 + [-1])
    rank = np.arange(24)[::-1].copy()  # the order inside a block
    left, right, stats = blocking._pairs_on(key, rank, full=8, window=2)
    pairs = set(zip(left.tolist(), right.tolist(), strict=True))
    # the small block: all 3 pairs; the block of 20: each person with the next two in order
    assert {(20, 21), (20, 22), (21, 22)} <= pairs
    assert (0, 1) in pairs and (0, 2) in pairs and (0, 3) not in pairs
    assert stats == {"pairs": 3 + 19 + 18, "large_blocks": 1,
                     "pairs_not_compared": 190 - 37}  # fmt: skip


def test_the_same_date_pass_finds_words_swapped_with_a_typo():
    f = features.fields_of(people({"nama": "NICOL JACK"}, {"nama": "JADK NICOL", "nkk": "1",
                                                     "kode_desa": "32.73.01.1001"}))  # fmt: skip
    _, _, _, found = blocking.block(f)
    assert found["tanggal_kata"].tolist() == [1] and found["tanggal_lahir"].tolist() == []


def test_strings_are_skipped_only_for_pairs_that_cannot_reach_the_threshold():
    """The bound from codes alone is never below the probability once strings are compared,
    so link() with its shortcut returns exactly the pairs scoring every blocked pair would."""
    table = _population(common=40)
    f = features.fields_of(table)
    model = k3_model.default_model()
    li, ri, _, _ = blocking.block(f)
    bound, _ = linkage.score(model, f, li, ri, comparison.compare(f, li, ri, strings=False))
    levels = comparison.compare(f, li, ri)
    probability, _ = linkage.score(model, f, li, ri, levels)
    assert len(li) > 100 and (bound >= probability - 1e-12).all()
    probability[comparison.kin(f, li, ri)[0] | (levels["nama_ibu"] == 0)] = 0.0
    for threshold in (0.01, 0.5, 0.8):
        got = linkage.link(table, model, threshold)
        keep = probability >= threshold
        assert got.left.tolist() == li[keep].tolist() and got.right.tolist() == ri[keep].tolist()
        assert np.allclose(got.probability, probability[keep])


def test_namesakes_with_unlike_mothers_are_never_linked():
    """Same name, date and place: one mother recorded with a word missing (still the same
    person), another mother unlike (a namesake)."""
    base = {"nama": "CINTA RAJASA", "tempat_lahir": "BANDUNG", "nama_ibu": "SITI AMINAH"}
    table = people(base, {**base, "nkk": "2", "nama_ibu": "AMINAH"},
                   {**base, "nkk": "3", "nama_ibu": "TIARA DONGORAN"})  # fmt: skip
    f = features.fields_of(table)
    levels = comparison.compare(f, np.array([0, 0]), np.array([1, 2]))
    assert levels["nama_ibu"].tolist() == [1, 0]
    found = linkage.link(table, k3_model.default_model(), threshold=0.01)
    assert {(int(a), int(b)) for a, b in zip(found.left, found.right, strict=True)} == {(0, 1)}


def _texts(seed: int, count: int = 600) -> list[str]:
    """Random normalised names (upper-case letters, single spaces) from few letters, so that
    many pairs are alike, and one empty text."""
    rng = np.random.default_rng(seed)
    made = {" ".join("".join(rng.choice(list("ABDINSU"), rng.integers(1, 7)))
                     for _ in range(rng.integers(1, 4))) for _ in range(count)}  # fmt: skip
    return sorted(made) + [""]


def _text_fields(texts: list[str]) -> features.Fields:
    n = len(texts)
    zeros = np.zeros(n, dtype=np.int32)
    return features.Fields(n, zeros, zeros, zeros, zeros, {"x": np.arange(n, dtype=np.int32)},
                           {"x": pa.array(texts)})  # fmt: skip


def test_string_bounds_are_never_below_the_similarity():
    """The letter-count bounds let rapidfuzz skip pairs: they must never be below the real
    similarity, or a pair alike enough would be missed."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Indel, JaroWinkler

    texts = _texts(1)
    f = _text_fields(texts)
    rng = np.random.default_rng(2)
    a, b = rng.integers(-1, len(texts), 20_000), rng.integers(-1, len(texts), 20_000)
    a[:3], b[:3] = [0, -1, -1], [0, 5, -1]  # the same text, one missing, both missing
    value = [*texts, ""]  # code -1: missing, compared as ""
    for kind, scorer, unit in (("indel", Indel.normalized_similarity, 1),
                               ("indel", fuzz.token_sort_ratio, 100),
                               ("jaro_winkler", JaroWinkler.normalized_similarity, 1)):  # fmt: skip
        bound = comparison.upper_bound(f, "x", a, b, kind)
        real = np.array([scorer(value[i], value[j]) / unit for i, j in zip(a, b, strict=True)])
        assert (bound >= real - 1e-12).all(), (kind, scorer)
        assert (bound < 0.9).mean() > 0.5  # and it does skip most unlike pairs


def test_same_words_is_token_set_ratio_100():
    from rapidfuzz import fuzz

    texts = [*_texts(3, 200), "ANI ANI", "ANI", "ANI BUDI", "BUDI ANI SITI"]
    f = _text_fields(texts)
    rng = np.random.default_rng(4)
    li, ri = rng.integers(0, len(texts), 20_000), rng.integers(0, len(texts), 20_000)
    got = comparison.same_words(f, "x", li, ri)
    want = [fuzz.token_set_ratio(texts[i], texts[j]) >= 100 for i, j in zip(li, ri, strict=True)]
    assert got.tolist() == want and 100 < got.sum() < len(li)
    ends = len(texts) - 4
    pairs = comparison.same_words(f, "x", np.array([ends, ends + 2, ends + 2, ends - 1]),
                                  np.array([ends + 1, ends + 3, ends + 1, ends - 1]))  # fmt: skip
    assert pairs.tolist() == [True, True, True, False]  # "" has no words
