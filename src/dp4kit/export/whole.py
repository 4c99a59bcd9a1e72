"""`dp4kit export`: the pipeline from SIAK files to the DP4, DAK2 and a manifest that proves the
count (the writers are in `outputs/`).

Everything is written into a temporary folder next to DIR and renamed into place at the end,
so an interrupted run leaves no half-written output. Re-running on the same input gives the
same content (files carry no timestamps).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from dp4kit.aggregate import aggregate, semester_of
from dp4kit.config import Settings
from dp4kit.dedup.k3 import K3Options
from dp4kit.dedup.k3_partitions import MAX_PARTITIONS
from dp4kit.dp4 import build_dp4
from dp4kit.errors import UsageError
from dp4kit.io.given_files import check_settings, read_decisions, read_k3_model, revoked_niks
from dp4kit.io.profiles import read_canonical
from dp4kit.outputs.export_files import write_outputs
from dp4kit.outputs.files import work_folder, written_folder
from dp4kit.outputs.manifest import MANIFEST_NAME
from dp4kit.report import ExportResult
from dp4kit.stages import StageTimer
from dp4kit.validation import validate_canonical

log = logging.getLogger(__name__)


def export(
    paths: Sequence[Path],
    out_dir: Path,
    settings: Settings,
    on_stage: Callable[[str], None] | None = None,
) -> ExportResult:
    """Read, validate, deduplicate, decide eligibility and write every output into out_dir
    (`settings.inputs` and `settings.out` are not read: the paths and out_dir are)."""
    stage = StageTimer(on_stage)
    check_settings(settings, paths)  # every file named, before a long read or any write
    if settings.k3_partitions > MAX_PARTITIONS:  # before a long read, not after
        raise UsageError(f"--k3-partitions: {settings.k3_partitions} is more than "
                         f"{MAX_PARTITIONS} (more save no memory)")  # fmt: skip
    if settings.memory_limit is None and (settings.spark_master or settings.jobs):
        raise UsageError("--jobs and --engine go with --each or --memory-limit")
    if settings.memory_limit is not None:
        from dp4kit.export.partitioned import export_partitioned

        return export_partitioned(paths, out_dir, settings, on_stage)
    revoked = revoked_niks(settings.exclude_nik)
    model = read_k3_model(settings.k3_model) if settings.k3_model else None
    decisions = read_decisions(settings.decisions) if settings.decisions else None
    data = read_canonical(
        list(paths), settings.profile, settings.election_date, settings.sheet, settings.keluarga
    )
    stage("read")
    report = validate_canonical(data, settings.election_date, settings.schema)
    stage("validate")
    k3 = K3Options(
        review=settings.k3_review,
        merge=settings.merge_fuzzy,
        model=model,
        decisions=decisions,
        partitions=settings.k3_partitions or None,
        # the output's own work folder: the next run removes it if this one is killed
        work=work_folder(Path(out_dir)),
    )
    tables = build_dp4(data, report, settings.election_date, revoked, on_stage=on_stage, k3=k3)
    stage.seconds.update(tables.stages)
    stage.restart()
    aggregates = aggregate(
        tables.population, settings.semester or semester_of(settings.election_date)
    )
    stage("aggregate")
    out_dir = Path(out_dir)
    with written_folder(out_dir, "export", MANIFEST_NAME, settings.group_readable) as tmp:
        manifest = write_outputs(tmp, data, report, tables, aggregates, settings, stage)
    return ExportResult(
        out_dir, tables, report, manifest, {**stage.seconds, "total": stage.total()}
    )
