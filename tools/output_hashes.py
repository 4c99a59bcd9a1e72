"""The sha256 of every file dp4kit writes, for a refactor that must not change one byte.

    python tools/output_hashes.py /tmp/hashes/before.json
    (change the code)
    python tools/output_hashes.py /tmp/hashes/after.json && diff /tmp/hashes/{before,after}.json

Runs, through the CLI: export of the bundled sample (in memory, --memory-limit, --mask with
dp4.csv); three synthetic regencies (kept in --inputs; made once, people planted across them)
exported in memory, with --memory-limit (the same files) and with --each; combine on those
(local, and --engine spark where pyspark is installed).
Writes {run: {file: sha256}}; the manifest is hashed like any other file."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATE = "2024-11-27"


def hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def dp4kit(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "dp4kit", *args], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"dp4kit {' '.join(args)}: exit {done.returncode}\n{done.stderr}")


def regencies(folder: Path) -> list[Path]:
    """Three synthetic regencies (30,000 rows in all), made once and then kept."""
    if not (folder / "done").exists():
        from dp4kit.sample.regions import write_regencies

        write_regencies(folder, rows=30_000, regencies=3, seed=300)
        (folder / "done").touch()
    return sorted(p for p in folder.glob("siak_*.csv") if ".truth" not in p.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="JSON file to write")
    parser.add_argument("--inputs", type=Path, default=Path("/tmp/dp4kit_hash_inputs"))
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/dp4kit_hash_work"),
        help="emptied first; fixed, as combine's manifest names its runs",
    )
    args = parser.parse_args()
    sample = str(ROOT / "sample_data" / "siak_sample.csv")
    runs: dict[str, dict[str, str]] = {}
    shutil.rmtree(args.work, ignore_errors=True)
    work = args.work
    exports = {
        "export": [sample],
        "export_partitioned": [sample, "--memory-limit", "2G"],
        "export_masked_csv": [sample, "--mask", "--csv"],
    }
    for name, flags in exports.items():
        dp4kit("export", *flags, "--out", str(work / name), "--election-date", DATE)
        runs[name] = hashes(work / name)
    inputs = [str(p) for p in regencies(args.inputs)]
    for name, flags in {"regions": [], "regions_partitioned": ["--memory-limit", "2G"]}.items():
        dp4kit("export", *inputs, *flags, "--out", str(work / name), "--election-date", DATE)
        runs[name] = hashes(work / name)
    if runs["regions"] != runs["regions_partitioned"]:
        print("the partitioned export of three regencies differs from the in-memory one")
    dp4kit("export", *inputs, "--each", "--jobs", "2", "--out", str(work / "each"),
           "--election-date", DATE)  # fmt: skip
    runs["export_each"] = hashes(work / "each")
    folders = [str(p) for p in sorted((work / "each").iterdir()) if p.is_dir()]
    engines = {"combine": []}
    try:
        import pyspark  # noqa: F401

        engines["combine_spark"] = ["--engine", "spark"]
    except ImportError:
        print("pyspark not installed: combine --engine spark left out")
    for name, flags in engines.items():
        dp4kit("combine", *folders, *flags, "--out", str(work / name))
        runs[name] = hashes(work / name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=1, sort_keys=True) + "\n")
    print(f"{sum(map(len, runs.values()))} files in {len(runs)} runs: {args.out}")


if __name__ == "__main__":
    main()
