"""Check that workbooks open cleanly in LibreOffice: convert each to PDF, headless.

Needs Debian's LibreOffice Calc (`apt-get install libreoffice-calc`; poppler-utils for the
page count). Not part of CI. Exit 0 when every file converted, 1 otherwise.

    python tools/xlsx_to_pdf.py out/dp4/dak2.xlsx --out /tmp/pdf
    pdftoppm -png -r 60 /tmp/pdf/dak2.pdf /tmp/pdf/page   # look at the pages
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def convert(workbook: Path, out_dir: Path) -> Path:
    """Convert one workbook with a throw-away LibreOffice profile; return the PDF path."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise SystemExit("soffice not found: apt-get install libreoffice-calc")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [soffice, f"-env:UserInstallation=file://{profile}", "--headless",
             "--convert-to", "pdf", "--outdir", str(out_dir), str(workbook)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    pdf = out_dir / f"{workbook.stem}.pdf"
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise RuntimeError(f"{workbook}: LibreOffice failed: {done.stderr.strip()}")
    return pdf


def pages(pdf: Path) -> str:
    if shutil.which("pdfinfo") is None:
        return "?"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    return next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages")), "?")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workbooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("pdf"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for workbook in args.workbooks:
        try:
            pdf = convert(workbook, args.out)
        except RuntimeError as exc:
            print(f"FAIL {exc}")
            failed += 1
            continue
        print(f"ok   {workbook} -> {pdf} ({pages(pdf)} pages)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
