"""`export --memory-limit`: the input worked on one kab/kota at a time gives exactly the files of
the in-memory export (every file's sha256, the manifest's too), whatever the partitions."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from dp4kit.dedup import k3_runner
from dp4kit.export import first_pass, partitioned
from dp4kit.outputs import parquet, stream

from conftest import SAMPLE_CSV, folder_checksums, invoke

pytestmark = pytest.mark.slow  # byte-equal exports both ways: CI runs them (-m slow)

DAY = "2024-11-27"


def export(out, *args):
    result = invoke("export", *args, "--out", out, "--election-date", DAY)
    assert result.exit_code in (0, 1) and (out / "manifest.json").exists(), (
        result.output,
        result.exception,
    )
    return out


@pytest.fixture
def small_pieces(monkeypatch):
    """Every piece as small as it goes: 7 NIK partitions, 4 K3 partitions (two at once, in
    worker processes), people files in batches of 50, audit row groups of 97 rows."""
    monkeypatch.setattr(partitioned, "partition_count", lambda *args: 7)
    monkeypatch.setattr(first_pass, "k3_partitions", lambda people, budget, jobs: 4)
    monkeypatch.setattr(first_pass, "k3_jobs", lambda people, budget, cores=None: 2)
    monkeypatch.setattr(first_pass, "PEOPLE_BATCH", 50)
    monkeypatch.setattr(parquet, "AUDIT_ROW_GROUP", 97)
    monkeypatch.setattr(stream, "AUDIT_ROW_GROUP", 97)


def test_the_sample_gives_the_same_files_byte_for_byte(tmp_path):
    args = (SAMPLE_CSV, "--csv")
    whole = folder_checksums(export(tmp_path / "memory", *args))
    parts = folder_checksums(export(tmp_path / "parts", *args, "--memory-limit", "2G"))
    assert parts == whole and len(whole) > 60
    assert invoke("verify", tmp_path / "parts").exit_code == 0


def test_aggregate_alone_is_the_same(tmp_path):
    def run(out, *extra):
        result = invoke("aggregate", SAMPLE_CSV, "--out", out, "--election-date", DAY, *extra)
        assert result.exit_code in (0, 1), result.output
        return folder_checksums(out)

    whole = run(tmp_path / "memory")
    assert run(tmp_path / "parts", "--memory-limit", "2G") == whole and "dak2.xlsx" in whole


def test_masked_with_every_piece_small_is_the_same(tmp_path, small_pieces):
    args = (SAMPLE_CSV, "--csv", "--mask")
    whole = folder_checksums(export(tmp_path / "memory", *args))
    assert folder_checksums(export(tmp_path / "parts", *args, "--memory-limit", "2G")) == whole


def test_k3_workers_map_the_merged_people_file_not_a_copy(tmp_path, small_pieces, monkeypatch):
    """The merged people file carries the given names' counts, so K3's workers map it: no
    second people file is written for them."""
    mapped, enter = [], k3_runner.Runner.__enter__

    def recording(self):
        mapped.append(self.path)
        return enter(self)

    monkeypatch.setattr(k3_runner.Runner, "__enter__", recording)
    export(tmp_path / "parts", SAMPLE_CSV, "--no-excel", "--memory-limit", "2G")
    assert [(p.name, p.parent.name) for p in mapped] == [("people.arrow", ".work")]


def test_reviewers_decisions_and_a_stale_one_are_applied_the_same(tmp_path, small_pieces):
    first = export(tmp_path / "first", SAMPLE_CSV, "--no-excel")
    found = pq.read_table(first / "duplicates.parquet").to_pandas()
    pairs = found[found["kind"] == "K3"].groupby("group_id")["nik"].agg(list).head(2).tolist()
    stale = "3204110609970001,3204114609970002,BEDA"  # NIKs not in the sample
    lines = ["nik_1,nik_2,keputusan", f"{pairs[0][0]},{pairs[0][1]},SAMA",
             f"{pairs[1][0]},{pairs[1][1]},BEDA", stale]  # fmt: skip
    decisions = tmp_path / "keputusan.csv"
    decisions.write_text("\n".join(lines) + "\n")
    args = (SAMPLE_CSV, "--decisions", decisions, "--mask")
    whole = folder_checksums(export(tmp_path / "memory", *args))
    assert "keputusan_usang.csv" in whole
    assert folder_checksums(export(tmp_path / "parts", *args, "--memory-limit", "2G")) == whole


def test_a_province_file_with_people_across_regencies_is_the_same(
        province_file, tmp_path, monkeypatch, small_pieces):  # fmt: skip
    """Three regencies mixed in one file, a broken row, an unknown kab/kota, people on two
    regencies' lists: the decisions that cross the parts are the whole input's."""
    folder, frame = province_file
    monkeypatch.chdir(folder)
    args = ("provinsi.csv", "--csv")
    whole = folder_checksums(export(tmp_path / "memory", *args))
    parts = folder_checksums(export(tmp_path / "parts", *args, "--memory-limit", "2G"))
    assert parts == whole
    duplicates = pq.read_table(tmp_path / "parts" / "duplicates.parquet").to_pandas()
    regencies = duplicates.groupby("group_id")["kode_desa"].agg(lambda d: d.str[:5].nunique())
    kinds = duplicates.drop_duplicates("group_id").set_index("group_id")["kind"]
    across = set(kinds[regencies > 1])
    assert {"K1", "K3"} <= across, across  # found only by looking across the parts
    excluded = pq.ParquetFile(tmp_path / "parts" / "excluded.parquet")
    assert excluded.metadata.num_row_groups > 3  # appended a row group at a time
    manifest = json.loads((tmp_path / "parts" / "manifest.json").read_text())
    assert manifest["counts"]["input_rows"] == len(frame) + 1  # the broken row too
    assert manifest["counts"]["balanced"] is True


def test_two_files_are_one_input_as_in_memory(province_file, tmp_path, monkeypatch,
                                              small_pieces):  # fmt: skip
    folder, frame = province_file
    monkeypatch.chdir(tmp_path)
    half = len(frame) // 2
    frame.iloc[:half].to_csv("a.csv", index=False)
    frame.iloc[half:].to_csv("b.csv", index=False)
    args = ("b.csv", "a.csv", "--no-excel")  # given in this order: b's rows come first
    whole = folder_checksums(export(tmp_path / "memory", *args))
    assert folder_checksums(export(tmp_path / "parts", *args, "--memory-limit", "2G")) == whole


def test_what_it_cannot_do_is_one_line(tmp_path):
    family = tmp_path / "kk.csv"
    family.write_text("NO_KK,ALAMAT\n")
    assert invoke("split", SAMPLE_CSV, "--out", tmp_path / "parts").exit_code == 0
    part = tmp_path / "parts" / "32.04.parquet"
    for source, extra, message in (
        (SAMPLE_CSV, ("--keluarga", family), "--memory-limit: a separate family file"),
        (SAMPLE_CSV, (), "--memory-limit: 512M is too small"),
        (part, (), f"--memory-limit: {part} is a part of dp4kit split"),
    ):
        limit = "512M" if "512M" in message else "2G"
        result = invoke("export", source, "--out", tmp_path / "out", "--election-date", DAY,
                        "--memory-limit", limit, *extra)  # fmt: skip
        assert result.exit_code == 2 and message in result.output, result.output
        assert result.output.count("\n") == 1 and not (tmp_path / "out").exists()


def test_merged_aggregates_count_a_family_in_two_regencies_once():
    """A KK with members in two kab/kota: each regency counts it, the province once."""
    from dp4kit.aggregate import aggregate, households_by_province, merge_aggregates
    from dp4kit.validation import dp4_from_frame

    from conftest import siak_rows

    rows = siak_rows({}, {"NIK": "3204114609970002", "NAMA_LGKP": "ANI", "JENIS_KLMIN": "2",
                          "NO_KAB": "73", "NO_KEC": "1", "NO_KEL": "1001"})  # fmt: skip
    population = dp4_from_frame(rows, pd.Timestamp(DAY).date()).population
    whole = aggregate(population, "2024-S2")
    kab = population["kode_kabkota"].astype(str)
    pieces = [population[kab == k].reset_index(drop=True) for k in sorted(set(kab))]
    merged = merge_aggregates([aggregate(p, "2024-S2") for p in pieces],
                              [households_by_province(p) for p in pieces], "2024-S2",
                              population.iloc[:0])  # fmt: skip
    assert list(merged.levels["kabkota"]["jumlah_kk"]) == [1, 1]
    assert int(merged.levels["provinsi"]["jumlah_kk"].iloc[0]) == 1
    assert int(merged.levels["nasional"]["jumlah_kk"].iloc[0]) == 1
    for level, table in whole.levels.items():
        pd.testing.assert_frame_equal(merged.levels[level], table, check_exact=True)
    for name, table in whole.breakdowns.items():
        pd.testing.assert_frame_equal(merged.breakdowns[name], table, check_exact=True)


def test_an_audit_file_appended_in_pieces_has_the_bytes_of_one_written_whole(tmp_path):
    """Parquet's page breaks follow the arrays' chunks: pieces are made contiguous first."""
    import numpy as np
    import pyarrow as pa

    words = np.random.default_rng(3).integers(0, 10**9, 250_000).astype(str)
    table = pa.table({"nama": pa.array(words), "baris": pa.array(np.arange(250_000))})
    chunked = pa.concat_tables([table.slice(i, 777) for i in range(0, 250_000, 777)])
    parquet.write_audit("whole.parquet", chunked, tmp_path)  # as export's tables may come
    appender = stream.ParquetAppender(tmp_path / "pieces.parquet")
    for start, stop in ((0, 0), (0, 1234), (1234, 150_001), (150_001, 250_000)):
        appender.add(table.slice(start, stop - start))
    appender.close()
    assert (tmp_path / "pieces.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_k3_runs_at_once_when_its_people_fit_the_budget():
    from dp4kit.export.first_pass import k3_partitions

    four = 4 << 30  # 3 GiB above the baseline, less 95 bytes a person; 1,300 bytes a person
    assert k3_partitions(2_000_000, four) is None  # 2.6 GB in 3.03 GB
    assert k3_partitions(2_400_000, four) == 2  # 3.12 GB in 2.99 GB
    assert k3_partitions(13_700_000, four) == 10  # 17.8 GB in 1.92 GB
    assert k3_partitions(50_000_000, four) == 122  # nothing left: 512 MiB a partition
    assert k3_partitions(3_400_000, 8 << 30) is None


def test_k3_partitions_run_two_at_once_where_two_and_their_workers_fit(monkeypatch):
    from dp4kit.export import first_pass as f

    monkeypatch.setattr(f.os, "cpu_count", lambda: 2)
    eight, four = 8 << 30, 4 << 30
    assert f.k3_jobs(3_400_000, eight) == 1  # at once: no workers
    # 13.7M people in 8G: 5.79 GiB left, less 2 workers of 0.5 GiB: 2.39 GiB a partition
    assert (f.k3_jobs(13_700_000, eight), f.k3_partitions(13_700_000, eight, 2)) == (2, 7)
    assert f.k3_partitions(13_700_000, eight) == 3  # one at a time: 5.79 GiB each
    # 3.4M in 4G: 2.70 GiB left; two at once: 0.85 GiB each
    assert (f.k3_jobs(3_400_000, four), f.k3_partitions(3_400_000, four, 2)) == (2, 5)
    assert f.k3_jobs(13_700_000, four) == 1  # 1.79 GiB left: two would get 0.39 GiB each
    assert f.k3_jobs(13_700_000, eight, cores=1) == 1  # --jobs 1
    monkeypatch.setattr(f.os, "cpu_count", lambda: 1)
    assert f.k3_jobs(13_700_000, eight) == 1  # one core: no second job


def test_jobs_with_memory_limit_caps_the_parts_at_once(tmp_path, monkeypatch):
    """--jobs 1 --memory-limit: the parts one at a time, and the same files."""
    seen = []
    real = partitioned.parts_at_once
    monkeypatch.setattr(partitioned, "parts_at_once",
                        lambda *args: seen.append(args[2]) or real(*args))  # fmt: skip
    args = (SAMPLE_CSV, "--memory-limit", "2G")
    one = folder_checksums(export(tmp_path / "one", *args, "--jobs", "1"))
    every = folder_checksums(export(tmp_path / "every", *args))
    assert seen == [1, None] and one == every


def test_ahead_gives_results_in_order_working_on_the_next_meanwhile():
    import threading

    began = {i: threading.Event() for i in range(7)}

    def work(i):
        began[i].set()
        return i * 10, threading.current_thread() is threading.main_thread()

    order = []
    for value, here in partitioned.ahead(work, [0, 1, 2, 3], 2):
        order.append(value)
        assert not here  # built in the thread
        if value < 30:  # the next part is worked on while this one is used
            assert began[value // 10 + 1].wait(5)
    assert order == [0, 10, 20, 30]
    assert [v for v, here in partitioned.ahead(work, [5, 6], 1) if here] == [50, 60]


def test_the_report_counts_nik_ganda_over_the_whole_input(province_file, tmp_path, monkeypatch):
    """NIK_GANDA (a warning, in no file) across kab/kota parts: the report a partitioned
    export returns has the in-memory export's rule counts, examples and warning rows."""
    import datetime as dt

    from dp4kit.config import Settings
    from dp4kit.export.whole import export as run_export

    folder, _ = province_file
    monkeypatch.chdir(folder)
    day = dt.date.fromisoformat(DAY)
    whole = run_export(["provinsi.csv"], tmp_path / "memory", Settings(election_date=day))
    parts = run_export(["provinsi.csv"], tmp_path / "parts",
                       Settings(election_date=day, memory_limit="2G"))  # fmt: skip
    ganda = [r for r in whole.report.rules if r.code == "NIK_GANDA"]
    assert ganda and ganda[0].rows > 2  # people on two regencies' lists share a NIK
    assert [r.to_dict() for r in parts.report.rules] == [r.to_dict() for r in whole.report.rules]
    assert (parts.report.rows, parts.report.rows_with_errors, parts.report.rows_with_warnings) == (
        whole.report.rows,
        whole.report.rows_with_errors,
        whole.report.rows_with_warnings,
    )


def test_the_first_pass_reads_as_many_parts_at_once_as_cores_and_budget_hold(tmp_path, monkeypatch):
    import pyarrow as pa

    parts = []
    for i, rows in enumerate((1_000, 250_000, 10)):
        parts.append(tmp_path / f"{i}.parquet")
        pq.write_table(pa.table({"x": pa.nulls(rows, pa.int8())}), parts[-1])
    monkeypatch.setattr(partitioned.os, "cpu_count", lambda: 2)
    one = 250_000 * partitioned.PART_BYTES_PER_ROW  # the largest part's first pass
    assert partitioned.parts_at_once(parts, one) == 1
    assert partitioned.parts_at_once(parts, 2 * one - 1) == 1
    assert partitioned.parts_at_once(parts, 10 * one) == 2  # one per core
    assert partitioned.parts_at_once(parts[2:], 10 * one) == 1  # no more than there are
    assert partitioned.parts_at_once(parts, one // 2) == 1  # at least one
    assert partitioned.parts_at_once(parts, 10 * one, cores=1) == 1  # --jobs 1
