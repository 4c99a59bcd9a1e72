"""Check that workbooks open cleanly in LibreOffice: convert each to PDF, headless.

Needs Debian's LibreOffice Calc (`apt-get install libreoffice-calc`; poppler-utils for the
page count and pictures; fonts-crosextra-carlito to lay Calibri out as Excel does). Not part
of CI. Exit 0 when every file converted, 1 otherwise.

    python tools/xlsx_to_pdf.py out/dp4/dak2.xlsx --out /tmp/pdf
    pdftoppm -png -r 60 /tmp/pdf/dak2.pdf /tmp/pdf/page   # look at the pages
    python tools/xlsx_to_pdf.py out/dp4/duplicates.xlsx --out /tmp/pdf --png docs/img --pages 2
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


def pictures(pdf: Path, folder: Path, count: int) -> None:
    """The first `count` pages of `pdf` as folder/<stem>_page<N>.png (72 dpi)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "72", "-f", "1", "-l", str(count), str(pdf),
                    str(folder / f"{pdf.stem}_page")], check=True)  # fmt: skip
    for made in folder.glob(f"{pdf.stem}_page-*.png"):  # pdftoppm pads: _page-01.png
        made.rename(folder / f"{pdf.stem}_page{int(made.stem.rsplit('-', 1)[1])}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workbooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("pdf"))
    parser.add_argument("--png", type=Path, help="also write the first pages as PNG here")
    parser.add_argument("--pages", type=int, default=1, help="how many pages as PNG")
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
        if args.png is not None:
            pictures(pdf, args.png, args.pages)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
