"""K3 one partition at a time gives what K3 over everyone gives: the same pairs, probabilities,
reasons, match weights, model and figures."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dp4kit.dedup import blocking, k3_partitions, k3_runner, pair_spill
from dp4kit.dedup import model as k3_model
from dp4kit.dedup.features import GIVEN_COUNT, given_counter, take_sorted, with_given_counts
from dp4kit.dedup.k3 import K3Options
from dp4kit.dedup.k3_partitions import link_partitioned
from dp4kit.dedup.linkage import K3Pairs, link
from dp4kit.dp4 import build_dp4, person_table
from dp4kit.errors import EngineError, OutputError, UsageError
from dp4kit.io.profiles import read_canonical
from dp4kit.validation import validate_canonical
from test_linkage import people

from conftest import folder_checksums, invoke

SAMPLE = Path(__file__).parents[1] / "sample_data" / "siak_sample.csv"
DAY = dt.date(2024, 11, 27)


def assert_same(got: K3Pairs, want: K3Pairs) -> None:
    assert got.left.tolist() == want.left.tolist()
    assert got.right.tolist() == want.right.tolist()
    assert got.probability.tolist() == want.probability.tolist()  # bit for bit
    assert got.reason.tolist() == want.reason.tolist()
    assert got.never_merged().tolist() == want.never_merged().tolist()
    assert got.kept_apart == want.kept_apart
    assert got.weights.keys() == want.weights.keys()
    for k in want.weights:
        np.testing.assert_array_equal(got.weights[k], want.weights[k])
    assert json.dumps(got.model.to_dict()) == json.dumps(want.model.to_dict())
    assert json.dumps(got.blocking) == json.dumps(want.blocking)  # values and order
    assert (got.compared, got.strings_compared, got.model_source) == (
        want.compared, want.strings_compared, want.model_source)  # fmt: skip


@pytest.fixture(scope="module")
def sample_people():
    data = read_canonical([SAMPLE], as_of=DAY)
    return person_table(data.table, np.arange(len(data.table)))


@pytest.fixture(scope="module")
def sample_link(sample_people):
    return link(sample_people)


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_partitions_give_what_one_k3_gives_on_the_sample(sample_people, sample_link, partitions):
    assert sample_people.num_rows == 3000 and sample_link.model_source == "input"
    assert len(sample_link.left) > 20  # the sample's planted K3 pairs, and more
    assert min(sample_link.blocking[p]["pairs"] for p in blocking.NEAR_PASSES) >= 20
    assert_same(link_partitioned(sample_people, partitions), sample_link)


def test_partitions_on_two_worker_processes_give_the_same(sample_people, sample_link,
                                                           tmp_path):  # fmt: skip
    work = tmp_path / "k3"
    assert_same(link_partitioned(sample_people, 3, work=work, jobs=2), sample_link)
    assert not work.exists()  # the pairs and the people file are gone


def test_partitions_hashed_a_slice_of_people_at_a_time(sample_people, sample_link, monkeypatch):
    monkeypatch.setattr(k3_partitions, "SLICE", 700)  # 5 slices of the 3,000 people
    assert_same(link_partitioned(sample_people, 3), sample_link)


def test_people_in_many_chunks_give_the_same(sample_people, sample_link):
    """As the partitioned export's merged people file is (a batch per 65,536 people)."""
    chunked = pa.Table.from_batches(sample_people.to_batches(max_chunksize=250))
    assert chunked.column(0).num_chunks == 12
    assert_same(link_partitioned(chunked, 3), sample_link)


def test_places_in_order_or_not_are_the_places():
    of = np.array([2, 5, 9, 40], np.int64)
    assert blocking.places(np.array([2, 2, 9, 40]), of).tolist() == [0, 0, 2, 3]  # in order
    assert blocking.places(np.array([40, 2, 9, 5, 2]), of).tolist() == [3, 0, 2, 1, 0]
    assert blocking.places(np.array([9]), of).tolist() == [2]
    assert blocking.places(np.array([], np.int64), of).tolist() == []


def test_given_counts_a_table_at_a_time_are_the_whole_tables():
    table = pa.table({"nama_inti": ["ADI", None, "", "BUDI", "ADI", "", None, "CICI"]})
    first, rest = table.slice(0, 3), table.slice(3)
    add = given_counter(iter([first["nama_inti"], rest["nama_inti"]]))
    got = pa.concat_tables([add(first), add(rest)])
    assert got[GIVEN_COUNT].to_pylist() == [2, 0, 2, 1, 2, 2, 0, 1]  # missing: 0
    assert got.equals(with_given_counts(table))
    nobody = given_counter(iter([]))(table.slice(0, 0))
    assert nobody[GIVEN_COUNT].to_pylist() == [] and nobody.schema == got.schema


def test_take_sorted_takes_what_take_takes_a_chunk_at_a_time():
    a = pa.chunked_array([[0, 1, 2], [3, 4], [5, 6, 7, 8]])
    b = pa.chunked_array([["a", "b"], ["c", "d", "e", "f"], ["g", "h", "i"]])  # other cuts
    table = pa.table({"a": a, "b": b})
    for positions in ([0, 2, 3, 8], [4, 5], [8], [], [0, 1, 2, 3, 4, 5, 6, 7, 8]):
        got = take_sorted(table, np.array(positions, np.int64))
        assert got.to_pydict() == table.take(pa.array(positions, pa.int64())).to_pydict()
        assert got.schema == table.schema
    one = pa.table({"a": [1, 2, 3]})
    assert take_sorted(one, np.array([2])).to_pydict() == {"a": [3]}


def test_pairs_too_large_to_share_an_integer_with_their_finder_sort_alike():
    rng = np.random.default_rng(2)
    code, task = rng.integers(0, 50, 400), rng.integers(0, 7, 400).astype(np.int32)
    small = pair_spill.by_pair_then_finder(code, task, 7)
    large = pair_spill.by_pair_then_finder(code + 2**62, task, 7)  # the lexsort path
    assert np.array_equal(small[0] + 2**62, large[0]) and np.array_equal(small[1], large[1])
    assert np.all(np.diff(small[0]) >= 0)
    same_pair = small[0][1:] == small[0][:-1]
    assert np.all(small[1][1:][same_pair] >= small[1][:-1][same_pair])  # first finder first


def test_a_saved_model_gives_the_same_pairs_by_partitions(sample_people, sample_link):
    want = link(sample_people, sample_link.model, threshold=0.1)
    got = link_partitioned(sample_people, 5, sample_link.model, threshold=0.1)
    assert got.model_source == "file" and len(got.left) > len(sample_link.left)
    assert_same(got, want)


def test_people_kept_apart_are_never_paired_and_the_rest_score_alike(sample_people,
                                                                     sample_link):  # fmt: skip
    # with one model, `apart` only drops the pairs of people of one group from scoring: the
    # others have the probabilities, reasons and weights they have over everyone
    group = np.arange(sample_people.num_rows) % 3
    got = link_partitioned(sample_people, 3, sample_link.model, apart=group)
    cross = np.flatnonzero(group[sample_link.left] != group[sample_link.right])
    assert 0 < len(cross) < len(sample_link.left)
    assert got.left.tolist() == sample_link.left[cross].tolist()
    assert got.right.tolist() == sample_link.right[cross].tolist()
    assert got.probability.tolist() == sample_link.probability[cross].tolist()
    assert got.reason.tolist() == sample_link.reason[cross].tolist()
    same = group[sample_link.left] == group[sample_link.right]
    assert 0 < got.compared < sample_link.compared
    # blocking sees every pair, as it does within one input: its figures are those of all
    assert got.blocking == sample_link.blocking
    assert same.sum() > 0


def test_apart_trains_on_every_pair(sample_people):
    # without a model, the model learnt is the one learnt over everyone: `apart` only
    # decides which pairs are scored
    whole = link_partitioned(sample_people, 3)
    group = np.arange(sample_people.num_rows) % 2
    got = link_partitioned(sample_people, 3, apart=group)
    assert got.model == whole.model and got.model_source == whole.model_source
    cross = np.flatnonzero(group[whole.left] != group[whole.right])
    assert got.left.tolist() == whole.left[cross].tolist()
    assert got.right.tolist() == whole.right[cross].tolist()


@pytest.mark.parametrize("partitions", [1, 4])
def test_apart_at_once_is_apart_by_partitions(sample_people, partitions):
    # combine links at once when its voters fit one partition: the same result
    group = np.arange(sample_people.num_rows) % 3
    at_once = link(sample_people, apart=group)
    got = link_partitioned(sample_people, partitions, apart=group)
    assert got.model == at_once.model and got.compared == at_once.compared
    assert 0 < at_once.compared < link(sample_people).compared
    assert_same(got, at_once)


def test_a_large_block_and_a_swapped_date_across_partitions():
    # 12 people of one date, sex and initial: a large block, compared in name order in a
    # window; each name twice (ties keep the input order); their date swapped is another
    # date, in another partition, where they must not block on their own date again; and a
    # pair of dates swapped (07-05 / 05-07) in two partitions
    names = ["BUDI ANTO", "BUDI ANTON", "BUDI ARTO", "BUDI ASTO", "BUDI ATMO", "BUDI AWAN"]
    rows = [{"nama": name, "tanggal_lahir": "1990-03-04", "nkk": str(i), "alamat": f"JL {i}",
             "kode_desa": "32.04.11.200" + str(i % 3)}
            for i, name in enumerate(names * 2)]  # fmt: skip
    rows += [{"nama": "SITI RAHMA", "tanggal_lahir": "1990-07-05", "jenis_kelamin": "P"},
             {"nama": "SITI RAHMA", "tanggal_lahir": "1990-05-07", "jenis_kelamin": "P",
              "nkk": "9"}]  # fmt: skip
    table = people(*rows)
    want = link(table, threshold=0.0)
    assert want.blocking["tanggal_lahir"]["large_blocks"] == 1
    assert want.blocking["tanggal_lahir"]["pairs_not_compared"] > 0
    assert (12, 13) in set(zip(want.left.tolist(), want.right.tolist(), strict=True))
    assert want.blocking["tanggal_tertukar"]["pairs"] == 1
    for partitions in (4, 5):
        parts = k3_model.mix(np.array([19900705, 19900507, 19900304, 19900403]))
        parts = parts % np.uint64(partitions)
        assert parts[0] != parts[1] and parts[2] != parts[3]  # in two partitions each
        assert_same(link_partitioned(table, partitions, threshold=0.0), want)


def test_fewer_than_two_people_give_no_pairs():
    got = link_partitioned(people({}), 4)
    assert len(got.left) == 0 and got.model_source == "packaged"


def test_the_training_sample_does_not_depend_on_the_order_of_the_pairs():
    codes = np.random.default_rng(1).choice(10**9, 600_000, replace=False)
    picked = k3_model.smallest(codes)
    assert len(picked) == k3_model.TRAIN_PAIRS and np.all(np.diff(picked) > 0)
    assert np.array_equal(k3_model.smallest(codes[::-1]), picked)
    # the sample of a union is the sample of its parts' samples (what partitions rely on)
    halves = np.concatenate([k3_model.smallest(codes[:300_000]),
                             k3_model.smallest(codes[300_000:])])  # fmt: skip
    assert np.array_equal(k3_model.smallest(halves), picked)
    assert np.array_equal(k3_model.smallest(codes[:1000]), blocking.distinct(codes[:1000]))


@pytest.mark.parametrize(("pairs", "values"), [(1_500_000, 10**12), (1_500_000, 300_000)])
def test_the_sample_of_repeated_pairs_is_the_sample_of_the_distinct_ones(pairs, values):
    # the codes of several passes repeat (a pair two passes find); few distinct values
    # among many repeats make it look further than its first cut
    codes = np.random.default_rng(2).integers(0, values, pairs)
    want = k3_model.smallest_of_distinct(blocking.distinct(codes))
    assert len(want) == k3_model.TRAIN_PAIRS
    assert np.array_equal(k3_model.smallest(codes), want)


def test_build_dp4_with_k3_by_partitions_is_identical():
    data = read_canonical([SAMPLE], as_of=DAY)
    report = validate_canonical(data, DAY)
    want = build_dp4(data, report, DAY)
    got = build_dp4(data, report, DAY, k3=K3Options(partitions=4))
    assert (want.duplicates["kind"] == "K3").sum() > 10
    for name in ("dp4", "excluded", "duplicates", "population"):
        assert getattr(got, name).equals(getattr(want, name)), name
    assert got.accounting == want.accounting


@pytest.mark.slow
def test_export_with_k3_partitions_writes_the_same_files(tmp_path):
    def export(out, *extra):
        result = invoke("export", SAMPLE, "--out", tmp_path / out, "--election-date",
                        DAY.isoformat(), *extra)  # fmt: skip
        assert result.exit_code == 1, result.output  # the sample has rejected rows
        return folder_checksums(tmp_path / out)

    want = export("all")
    got = export("partitions", "--k3-partitions", "3")
    assert len(want) > 20 and "duplicates.parquet" in want
    assert got == want  # every file, the Excel workbooks and manifest.json included


def test_a_partition_count_out_of_range_or_a_work_folder_it_cannot_make_is_one_line(tmp_path):
    for partitions in (0, k3_partitions.MAX_PARTITIONS + 1):
        with pytest.raises(UsageError, match="not between 1 and 1024"):
            link_partitioned(people({}, {}), partitions)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OutputError, match="cannot write K3's pairs"):
        link_partitioned(people({}, {}), 2, work=tmp_path / "a-file" / "k3")
    result = invoke("export", SAMPLE, "--out", tmp_path / "out", "--election-date",
                    DAY.isoformat(), "--k3-partitions", "5000")  # fmt: skip
    assert result.exit_code == 2
    assert "--k3-partitions: 5000 is more than 1024" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def _dies(people, *args):
    os._exit(1)  # as a worker the kernel kills for lack of memory


def test_a_worker_process_that_dies_is_one_line(sample_people, tmp_path):
    runner = k3_runner.Runner(sample_people.slice(0, 10), tmp_path, 2, None)
    with pytest.raises(EngineError, match=r"^a K3 worker process ended abruptly"), runner as run:
        run(_dies, [(1,), (2,), (3,)])
