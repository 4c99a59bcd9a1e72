"""`dp4kit verify`: an output folder against its manifest, hostile manifests included."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pytest

from dp4kit.config import Settings
from dp4kit.export.whole import export
from dp4kit.runs.verify import verify

from conftest import SAMPLE_CSV, invoke

# --- verify ----------------------------------------------------------------------------------


@pytest.fixture
def exported(tmp_path):
    out = tmp_path / "out"
    export([SAMPLE_CSV], out, Settings(election_date=dt.date(2024, 11, 27), excel=False, csv=True))
    return out


def test_verify_passes_on_an_intact_folder(exported):
    result = verify(exported)
    assert result.problems == [] and result.files_checked > 40
    header, first = (exported / "dp4.csv").read_text(encoding="utf-8").splitlines()[:2]
    assert header.startswith('"nik","nkk","nama"')
    assert re.match(r'^"\d{16}","\d{16}","[A-Z]', first)  # NIK/NKK quoted: text in any reader
    cli = invoke("verify", exported)
    assert cli.exit_code == 0 and cli.output.startswith("OK: ")


def test_verify_catches_edits_truncation_removal_and_extra_files(exported):
    with open(exported / "dp4.csv", "a") as f:
        f.write('"3204110609970009"\n')
    (exported / "dak2.parquet").write_bytes((exported / "dak2.parquet").read_bytes()[:100])
    (exported / "rincian_umur.parquet").unlink()
    (exported / "catatan.txt").write_text("x")
    assert verify(exported).problems == [  # in manifest order, then files it does not list
        "changed: dak2.parquet (checksum differs from the manifest)",
        "missing: rincian_umur.parquet",
        "changed: dp4.csv (checksum differs from the manifest)",
        "unexpected file: catatan.txt",
    ]
    cli = invoke("verify", exported, "--format", "json")
    assert cli.exit_code == 1 and json.loads(cli.output)["ok"] is False


def test_verify_rechecks_the_accounting(exported):
    manifest = json.loads((exported / "manifest.json").read_text())
    manifest["counts"]["dp4"] += 1
    manifest["counts"]["held"] -= 1
    (exported / "manifest.json").write_text(json.dumps(manifest))
    problems = verify(exported).problems
    assert "accounting: the dp4/ files do not hold counts.dp4 rows" in problems
    assert any(p.startswith("accounting: duplicates.parquet has 30 'held' rows") for p in problems)


def test_verify_on_a_folder_that_is_not_an_export(tmp_path):
    result = invoke("verify", tmp_path)
    assert result.exit_code == 2 and "no manifest.json" in result.output


def test_verify_refuses_a_malformed_manifest(exported):
    manifest = json.loads((exported / "manifest.json").read_text())
    del manifest["outputs"][0]["sha256"]
    (exported / "manifest.json").write_text(json.dumps(manifest))
    result = invoke("verify", exported)
    assert result.exit_code == 2 and "output entry 1 is malformed" in result.output


# --- verify against a hostile manifest (issue 11) ------------------------------------------


def rewrite_manifest(folder, change) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_verify_reads_nothing_outside_the_folder(exported):
    outside = exported.parent / "rahasia.txt"
    outside.write_text("not part of the export")
    listed = ["../rahasia.txt", str(outside), "dp4/../../rahasia.txt"]
    rewrite_manifest(exported, lambda m: m["outputs"].extend(
        {"path": p, "rows": 0, "sha256": "0" * 64} for p in listed))  # fmt: skip
    result = verify(exported)
    assert result.problems == [f"outside the folder: {p!r} (not read)" for p in listed]


def test_verify_reports_links_and_special_files(exported):
    os.mkfifo(exported / "antrian")
    (exported / "tautan.parquet").symlink_to(exported / "excluded.parquet")
    rejected = exported / "rejected.parquet"
    rejected.rename(exported / "asli.parquet")
    rejected.symlink_to(exported / "asli.parquet")  # a listed file replaced by a link
    problems = verify(exported).problems
    assert "not a regular file: rejected.parquet" in problems
    assert "unexpected special file: antrian" in problems
    assert "unexpected link: tautan.parquet" in problems
    assert "unexpected file: asli.parquet" in problems


def test_verify_checks_the_inputs_rows_and_a_missing_column(exported):
    rewrite_manifest(exported, lambda m: m["inputs"][0].update(rows=2999))
    assert verify(exported).problems == [
        "accounting: the inputs' rows do not add up to counts.input_rows"
    ]
    import pyarrow.parquet as pq

    from dp4kit.io.sources import file_sha256

    dup = exported / "duplicates.parquet"
    pq.write_table(pq.read_table(dup).drop_columns(["action"]), dup)
    sha = file_sha256(dup)
    rewrite_manifest(exported, lambda m: [o.update(sha256=sha) for o in m["outputs"]
                                          if o["path"] == dup.name])  # fmt: skip
    assert (
        "changed: duplicates.parquet has no readable 'action' column" in verify(exported).problems
    )


NESTED = "[" * 100_000 + "]" * 100_000
BAD_INPUTS = '{"outputs": [], "counts": {}, "inputs": [{"rows": [1]}]}'


@pytest.mark.parametrize("text", [NESTED, BAD_INPUTS, '{"outputs": {"a": 1}}'])
def test_verify_refuses_nested_or_malformed_manifests(exported, text):
    (exported / "manifest.json").write_text(text)
    result = invoke("verify", exported)
    assert result.exit_code == 2
    assert result.output.startswith("dp4kit: error: ") and result.output.count("\n") == 1


def test_verify_refuses_a_manifest_that_is_not_a_file(tmp_path):
    (tmp_path / "manifest.json").mkdir()
    result = invoke("verify", tmp_path)
    assert result.exit_code == 2 and "not a regular file" in result.output
