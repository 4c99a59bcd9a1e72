"""`combine --engine spark` and `export --each --engine spark` (Spark in local mode) give the
local engine's result, file for file; without pyspark, or when Spark fails, one line."""

from __future__ import annotations

import contextlib

import pytest

from conftest import SAMPLE_CSV, folder_checksums, invoke

pytestmark = pytest.mark.spark  # CI runs them in a venv with the spark extra (-m spark)


def test_spark_in_local_mode_equals_the_local_engine(tmp_path, province, monkeypatch):
    pytest.importorskip("pyspark")
    from dp4kit.regions import combine as module

    local = module.combine(province, tmp_path / "local", partitions=1, fuzzy=True)
    seen = []
    real = module.cross_regency
    monkeypatch.setattr(module, "cross_regency", lambda *a: seen.append(a[1:]) or real(*a))
    monkeypatch.setattr(module, "BYTES_PER_VOTER", 2_000_000)  # several shuffle partitions
    result = invoke("combine", *province, "--out", tmp_path / "spark", "--engine", "spark",
                    "--spark-master", "local[2]", "--memory-limit", "2G", "--fuzzy")  # fmt: skip
    assert "DONE WITH FINDINGS" in result.output, result.output
    ((partitions, scratch, engine, persons),) = seen
    assert engine is not None and not persons  # on Spark; K3's model finds the people
    assert partitions == 3
    assert scratch.parent.name.startswith(".spark.tmp-")  # Spark's files in the work folder
    assert len(local.findings) == 166  # 118 by NIK, 48 K3 by the model
    assert folder_checksums(tmp_path / "spark") == folder_checksums(tmp_path / "local")


def test_k3_partitions_across_runs_as_spark_tasks_give_the_local_files(tmp_path, province,
                                                                       monkeypatch):  # fmt: skip
    pytest.importorskip("pyspark")
    from dp4kit.regions import combine as module
    from dp4kit.regions import cross_k3, spark

    at_once = module.combine(province, tmp_path / "at_once", partitions=1)  # one K3 partition
    monkeypatch.setattr(cross_k3, "VOTERS_PER_PARTITION", 500)  # K3 in 3 partitions
    monkeypatch.setattr(module, "k3_at_once", lambda budget: 0)  # as if on a small budget
    local = module.combine(province, tmp_path / "local", partitions=1)
    waves, real = [], spark.spark_tasks

    @contextlib.contextmanager
    def counted(*args):
        with real(*args) as run:
            yield lambda function, path, jobs: waves.append(len(jobs)) or run(function, path, jobs)

    monkeypatch.setattr(spark, "spark_tasks", counted)
    result = invoke("combine", *province, "--out", tmp_path / "spark", "--engine", "spark",
                    "--spark-master", "local[2]")  # fmt: skip
    assert "DONE WITH FINDINGS" in result.output, result.output
    assert local.manifest.k3.across_regencies["partitions"] == 3
    assert len(waves) >= 2 and sum(waves) > 3  # blocking passes by key hash, then scoring
    assert folder_checksums(tmp_path / "spark") == folder_checksums(tmp_path / "local")
    # at once or by partitions, the same files; the manifest says how many partitions
    whole, parts = (folder_checksums(tmp_path / f) for f in ("at_once", "local"))
    assert whole.pop("manifest.json") != parts.pop("manifest.json") and whole == parts
    k3 = local.manifest.k3.across_regencies
    assert {**k3, "partitions": 1} == at_once.manifest.k3.across_regencies


def test_without_pyspark_the_spark_engine_is_one_line(tmp_path, province, monkeypatch):
    for name in ("pyspark", "pyspark.sql"):  # as if not installed
        monkeypatch.setitem(__import__("sys").modules, name, None)
    result = invoke("combine", *province, "--out", tmp_path / "p", "--engine", "spark")
    assert result.exit_code == 2
    assert result.output == (
        "dp4kit: error: --engine spark needs pyspark: pip install 'dp4kit[spark]'\n"
    )


def test_a_failing_spark_job_is_one_line(tmp_path, province, monkeypatch):
    pytest.importorskip("pyspark")
    from pyspark.errors import PySparkRuntimeError

    def broken(*args):  # as a Spark job that fails
        raise PySparkRuntimeError("task failed on 3204110609970001")

    monkeypatch.setattr("dp4kit.regions.spark._found_on_spark", broken)
    result = invoke("combine", *province, "--out", tmp_path / "p", "--engine", "spark")
    assert result.exit_code == 2
    assert result.output == ("dp4kit: error: Spark (local[*]) failed: PySparkRuntimeError; "
                             "see the Spark driver and executor logs\n")  # fmt: skip


def test_export_each_on_spark_makes_the_local_runs(tmp_path, province):
    pytest.importorskip("pyspark")
    inputs = [run.with_suffix(".csv") for run in province[:2]]
    common = ["--each", "--election-date", "2024-11-27", "--no-excel"]
    local = invoke("export", *inputs, *common, "--out", tmp_path / "local")
    spark = invoke("export", *inputs, *common, "--out", tmp_path / "spark", "--engine", "spark",
                   "--spark-master", "local[2]")  # fmt: skip
    assert local.exit_code == spark.exit_code == 1, spark.output
    assert spark.output.count("DONE WITH FINDINGS") == 2
    assert sorted(p.name for p in (tmp_path / "spark").iterdir()) == sorted(p.stem for p in inputs)
    assert folder_checksums(tmp_path / "spark") == folder_checksums(tmp_path / "local")


def test_export_each_on_a_spark_that_fails_is_one_line(tmp_path, province, monkeypatch):
    pytest.importorskip("pyspark")
    from pyspark.errors import PySparkRuntimeError

    def no_gateway(*args, **named):  # as a master that cannot be reached
        raise PySparkRuntimeError("[JAVA_GATEWAY_EXITED] for 3204110609970001")

    monkeypatch.setattr("dp4kit.regions.spark.spark_session", no_gateway)
    result = invoke("export", province[0].with_suffix(".csv"), "--each", "--out", tmp_path / "r",
                    "--election-date", "2024-11-27", "--engine", "spark")  # fmt: skip
    assert result.exit_code == 2
    assert result.output == ("dp4kit: error: Spark (local[*]) failed: PySparkRuntimeError; "
                             "see the Spark driver and executor logs\n")  # fmt: skip


def test_a_partitioned_export_on_spark_makes_the_local_files(tmp_path, province_file,
                                                             monkeypatch):  # fmt: skip
    """export --memory-limit --engine spark: each kab/kota part read and checked in a Spark
    task, K3's partitions as Spark tasks; the files are those of the export here."""
    pytest.importorskip("pyspark")
    from dp4kit.export import first_pass

    folder, _ = province_file
    monkeypatch.chdir(folder)
    monkeypatch.setattr(first_pass, "k3_partitions", lambda people, budget, jobs: 3)
    common = ["provinsi.csv", "--election-date", "2024-11-27", "--csv", "--memory-limit", "2G"]
    local = invoke("export", *common, "--out", tmp_path / "local")
    from dp4kit.regions import spark as module

    waves, real = [], module.spark_calls

    @contextlib.contextmanager
    def counted(*args):
        with real(*args) as run:
            yield (
                lambda function, jobs: (
                    waves.append((function.__name__, len(jobs))) or run(function, jobs)
                )
            )

    monkeypatch.setattr(module, "spark_calls", counted)
    spark = invoke("export", *common, "--out", tmp_path / "spark", "--engine", "spark",
                   "--spark-master", "local[2]")  # fmt: skip
    assert local.exit_code == spark.exit_code == 1, spark.output
    assert waves[0] == ("read_part", 4)  # 3 kab/kota and the unknown one's part
    assert {name for name, _ in waves[1:]} == {"on_mapped"}  # K3's partition tasks
    assert folder_checksums(tmp_path / "spark") == folder_checksums(tmp_path / "local")
    assert len(folder_checksums(tmp_path / "local")) > 30


def test_a_partitioned_export_on_spark_without_pyspark_is_one_line(tmp_path, monkeypatch):
    """Said before the input is split (a long step for a province)."""
    from dp4kit.regions import split as module

    for name in ("pyspark", "pyspark.sql"):  # as if not installed
        monkeypatch.setitem(__import__("sys").modules, name, None)
    monkeypatch.setattr(module, "split", lambda *args: pytest.fail("split before Spark"))
    result = invoke("export", SAMPLE_CSV, "--out", tmp_path / "o", "--election-date", "2024-11-27",
                    "--memory-limit", "2G", "--engine", "spark")  # fmt: skip
    assert result.exit_code == 2
    assert result.output == (
        "dp4kit: error: --engine spark needs pyspark: pip install 'dp4kit[spark]'\n"
    )
    assert not (tmp_path / "o").exists()
