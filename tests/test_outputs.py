"""The writers called directly on hand-made tables, and the Manifest type (build, write, read,
check)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from dp4kit.aggregate import aggregate
from dp4kit.config import Settings
from dp4kit.dp4 import build_dp4
from dp4kit.errors import InputFileError
from dp4kit.io.profiles import resolve_profile, to_canonical
from dp4kit.outputs.export_files import write_outputs
from dp4kit.outputs.manifest import (
    CombinedK3,
    CombineParameters,
    Counts,
    ExportParameters,
    K3Section,
    Manifest,
    OutputFile,
)
from dp4kit.outputs.parquet import write_dp4_parts
from dp4kit.validation import frame_input, validate_canonical

from conftest import siak_rows

DAY = dt.date(2024, 11, 27)


def results(frame):
    data = to_canonical(frame_input(frame), resolve_profile("siak", list(frame.columns)), DAY)
    report = validate_canonical(data, DAY)
    tables = build_dp4(data, report, DAY)
    return data, report, tables, aggregate(tables.population, "2024-S2")


PEOPLE = siak_rows(
    {},
    {"NIK": "3204114509990002", "NAMA_LGKP": "=SUM(A1)", "JENIS_KLMIN": "2",
     "TGL_LHR": "05-09-1999"},
    {"NIK": "3204110101150003", "NAMA_LGKP": "ANI", "TGL_LHR": "01-01-2015"},  # 9: excluded
    {"NIK": "32041106"},  # rejected
)  # fmt: skip


def parquet_only(**settings) -> Settings:
    return Settings(election_date=DAY, excel=False, **settings)


def test_the_parquet_writer_partitions_the_dp4_and_writes_each_audit_file(tmp_path):
    manifest = write_outputs(tmp_path, *results(PEOPLE), parquet_only())
    written = [OutputFile(o.path, o.rows) for o in manifest.outputs]
    assert written[:6] == [
        OutputFile("dp4/32.04.11.parquet", 2),
        OutputFile("k3_people/32.04.11.parquet", 2),
        OutputFile("rejected.parquet", 1),
        OutputFile("duplicates.parquet", 0),
        OutputFile("excluded.parquet", 1),
        OutputFile("k3_model.json", 6),  # its comparisons
    ]
    part = pq.read_table(tmp_path / written[0].path)
    assert part.column("nik").to_pylist() == ["3204114509990002", "3204110609970001"]  # by name
    assert part.column("kode_kabkota").to_pylist() == ["32.04", "32.04"]  # text, in the file
    assert part.column("kode_kecamatan").to_pylist() == ["32.04.11", "32.04.11"]
    assert "nama_ibu" not in part.column_names  # not for KPU


def test_the_person_file_holds_k3s_columns_of_each_voter_row_for_row_with_the_dp4(tmp_path):
    mothers = PEOPLE.assign(NAMA_LGKP_IBU=["SITI AMINAH", "", "RINA", ""])
    write_dp4_parts(results(mothers)[2], tmp_path)
    people = pq.read_table(tmp_path / "k3_people/32.04.11.parquet")
    assert people.column_names == [
        "nik",
        "nkk",
        "nama",
        "tempat_lahir",
        "alamat",
        "tanggal_lahir",
        "jenis_kelamin",
        "kode_desa",
        "nama_ibu",
    ]
    assert people.column("nik").to_pylist() == ["3204114509990002", "3204110609970001"]
    assert people.column("nama_ibu").to_pylist() == [None, "SITI AMINAH"]
    assert people.column("jenis_kelamin").to_pylist() == ["P", "L"]
    # an export without the mother's name: the column is there, empty
    (tmp_path / "none").mkdir()
    write_dp4_parts(results(PEOPLE)[2], tmp_path / "none")
    without = pq.read_table(tmp_path / "none/k3_people/32.04.11.parquet")
    assert without.column("nama_ibu").to_pylist() == [None, None]


REGENCIES = (("32.04", "32.04.11"), ("32.10", "32.10.01"), ("11.01", "11.01.01"))


@pytest.fixture(scope="module")
def dp4_folder(tmp_path_factory):
    """A dp4/ of three kecamatan whose codes look like numbers (32.10) and dates (11.01.01)."""
    tables = results(PEOPLE)[2]
    one = tables.dp4.iloc[[0]]
    tables.dp4 = pd.concat([one.assign(kode_kabkota=kab, kode_kecamatan=kec)
                            for kab, kec in sorted(REGENCIES)], ignore_index=True)  # fmt: skip
    tables.people = pd.concat([tables.people.iloc[[0]]] * 3, ignore_index=True)
    root = tmp_path_factory.mktemp("dp4")
    write_dp4_parts(tables, root)
    return root / "dp4"


def readers(folder):
    """dp4/ read as each library reads a folder by default: the region codes of each row."""
    import duckdb
    import polars as pl

    yield "pyarrow", pq.read_table(folder).select(["kode_kabkota", "kode_kecamatan"]).to_pylist()
    yield "polars", pl.read_parquet(folder).select(["kode_kabkota", "kode_kecamatan"]).to_dicts()
    sql = f"SELECT kode_kabkota, kode_kecamatan FROM read_parquet('{folder}/*.parquet')"
    yield "duckdb", duckdb.sql(sql).df().to_dict("records")


def test_dp4_region_codes_are_text_to_pyarrow_polars_and_duckdb(dp4_folder):
    expected = sorted(({"kode_kabkota": kab, "kode_kecamatan": kec} for kab, kec in REGENCIES),
                      key=str)  # fmt: skip
    for reader, rows in readers(dp4_folder):
        assert sorted(rows, key=str) == expected, reader


@pytest.mark.spark
def test_dp4_region_codes_are_text_to_spark(dp4_folder):
    pytest.importorskip("pyspark")
    from dp4kit.regions.spark import spark_session

    spark = spark_session("local[1]", 1, app="dp4kit test")
    try:
        frame = spark.read.parquet(str(dp4_folder))
        types = {f.name: f.dataType.typeName() for f in frame.schema.fields}
        rows = sorted(tuple(r) for r in frame.select("kode_kabkota", "kode_kecamatan").collect())
    finally:
        spark.stop()
    assert types["kode_kabkota"] == types["kode_kecamatan"] == "string"
    assert rows == sorted(REGENCIES)


def test_audit_files_are_written_in_row_groups_for_combine(tmp_path, monkeypatch):
    young = [{"NIK": f"320411010115{i:04d}", "NAMA_LGKP": f"ANAK {i}", "TGL_LHR": "01-01-2015"}
             for i in range(1, 8)]  # fmt: skip
    data, report, tables, aggregates = results(siak_rows({}, *young))
    monkeypatch.setattr("dp4kit.outputs.parquet.AUDIT_ROW_GROUP", 3)
    monkeypatch.setattr("dp4kit.outputs.stream.AUDIT_ROW_GROUP", 3)  # excluded is appended
    write_outputs(tmp_path, data, report, tables, aggregates, parquet_only())
    excluded = pq.ParquetFile(tmp_path / "excluded.parquet")
    assert [excluded.metadata.row_group(i).num_rows for i in range(excluded.num_row_groups)] == [
        3, 3, 1,
    ]  # fmt: skip
    assert excluded.read().column("nik").to_pylist() == list(tables.excluded["nik"])


def test_the_csv_writer_neutralises_formulas_and_keeps_identifiers_as_text(tmp_path):
    manifest = write_outputs(tmp_path, *results(PEOPLE), parquet_only(csv=True))
    assert [o.rows for o in manifest.outputs if o.path == "dp4.csv"] == [2]
    text = (tmp_path / "dp4.csv").read_text()
    assert '"\'=SUM(A1)"' in text and '"3204110609970001"' in text
    read = pacsv.read_csv(tmp_path / "dp4.csv").column("nama").to_pylist()
    assert read == ["'=SUM(A1)", "BUDI SANTOSO"]


def test_write_outputs_masks_once_for_every_writer_and_lists_every_file(tmp_path):
    settings = Settings(election_date=DAY, mask=True, csv=True, excel=False)
    manifest = write_outputs(tmp_path, *results(PEOPLE), settings)
    files = {o.path for o in manifest.outputs}
    assert files >= {"dp4.csv", "rejected.parquet", "excluded.parquet", "dak2.parquet"}
    assert not any(f.endswith(".xlsx") for f in files)
    for name in ("dp4.csv", "rejected.parquet", "excluded.parquet"):
        content = (tmp_path / name).read_bytes()
        assert b"3204110609970001" not in content and b"3204110101150003" not in content
    assert b"320411060997****" in (tmp_path / "dp4.csv").read_bytes()
    assert manifest.counts == Counts(4, dp4=2, excluded=1, rejected=1, balanced=True)
    assert manifest.parameters.mask is True and manifest.masked
    assert Manifest.read(tmp_path) == manifest  # what is written is what is read


def test_the_manifest_keeps_its_field_order_and_its_parameter_names(tmp_path):
    manifest = write_outputs(tmp_path, *results(PEOPLE), Settings(election_date=DAY, excel=False))
    raw = json.loads((tmp_path / "manifest.json").read_text())
    assert list(raw) == ["tool", "parameters", "region_master", "inputs", "outputs", "counts",
                         "excluded_by_reason", "rejected_by_rule", "duplicates", "review_rows",
                         "k3", "accounting", "semester", "dak2"]  # fmt: skip
    assert raw["parameters"]["schemas"] == [] and raw["parameters"]["levels"][0] == "desa"
    assert manifest.election_date == DAY and manifest.rejected_share() == 0.25


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "not a dp4kit manifest"),
        ({"outputs": [], "counts": {"dp4": "2"}}, "the counts are malformed"),
        ({"outputs": [{"path": "a", "rows": 1}], "counts": {}}, "output entry 1 is malformed"),
        ({"outputs": [], "counts": {}, "inputs": [{"rows": "3"}]}, "the inputs are malformed"),
        ({"outputs": [], "counts": {}, "parameters": []}, "'parameters' is malformed"),
    ],
)
def test_a_damaged_manifest_is_one_error(raw, message):
    with pytest.raises(InputFileError, match=message):
        Manifest.from_dict(raw)


def test_an_older_manifest_without_the_newer_fields_is_read():
    old = Manifest.from_dict({"outputs": [], "counts": {"input_rows": 0}})
    assert old.semester == "" and old.dak2 == {} and not old.masked


def test_the_manifests_sections_are_typed_and_read_back_as_written(tmp_path):
    manifest = write_outputs(tmp_path, *results(PEOPLE), parquet_only())
    assert isinstance(manifest.parameters, ExportParameters) and manifest.parameters.dp4
    assert isinstance(manifest.k3, K3Section) and manifest.k3.review_probability == 0.5
    raw = json.loads((tmp_path / "manifest.json").read_text())
    assert raw["counts"] == {"input_rows": 4, "dp4": 2, "excluded": 1, "rejected": 1,
                             "removed": 0, "held": 0, "balanced": True}  # fmt: skip
    older = raw | {"parameters": {"election_date": "2024-11-27", "retired_flag": 1}, "k3": {}}
    read = Manifest.from_dict(older)
    assert read.parameters == ExportParameters(election_date="2024-11-27")  # defaults, no extra
    assert read.k3 is None and read.to_dict()["k3"] == {}
    combined = raw | {"parameters": {"combine": ["a", "b"], "election_date": "2024-11-27"},
                      "k3": {"within_runs": "own", "across_regencies": {"pairs": 3}}}  # fmt: skip
    read = Manifest.from_dict(combined)
    assert read.parameters == CombineParameters(["a", "b"], "2024-11-27")
    assert read.k3 == CombinedK3("own", {"pairs": 3}) and read.election_date == DAY
