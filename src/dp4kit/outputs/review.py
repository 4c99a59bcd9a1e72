"""duplicates.xlsx: the reviewers' workbook, in Indonesian, made to be printed and filled in.

Sheets: PETUNJUK (what to do), TINJAUAN (one row per pair that needs a decision: the two
records side by side, the model's probability and reason, `Keputusan` with a SAMA/BEDA
drop-down), DITAHAN (one NIK used by different people: fix in SIAK) and SELESAI (duplicates
dp4kit settled itself). `--decisions duplicates.xlsx` reads TINJAUAN back
(`dedup.decisions.read_decisions`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from dp4kit import __version__
from dp4kit.dedup.decisions import REVIEW_SHEET, VERDICT, VERDICTS
from dp4kit.outputs.xlsx import EXCEL_MAX_ROWS, add_sheets, new_workbook, print_setup, row_height

TITLE = "DATA GANDA: LEMBAR TINJAUAN"
INSTRUCTIONS_WIDTH = 85
RECORD = ("Baris", "NIK", "Nama", "Tempat, Tgl Lahir", "Alamat (Kode Desa)")
REVIEW_HEADER = ["No", "Kelompok", "Peluang", "Alasan",
                 *(f"{h} 1" for h in RECORD), *(f"{h} 2" for h in RECORD), VERDICT]  # fmt: skip
WIDTHS = {"No": 4, "Kelompok": 10, "Peluang": 7, "Alasan": 22, VERDICT: 10}
WIDTHS |= {f"{h} {k}": w for k in (1, 2) for h, w in zip(RECORD, (5, 17, 15, 12, 16), strict=True)}
WRAP = ["Alasan", *(f"{h} {k}" for k in (1, 2) for h in RECORD[2:])]
SETTLED_HEADER = ["No", "Jenis", "Kelompok", "Tindakan", "Baris", "NIK", "NKK", "Nama",
                  "Tempat, Tgl Lahir", "Alamat (Kode Desa)", "Keterangan"]  # fmt: skip
SETTLED_WIDTHS = {"No": 5, "Jenis": 16, "Kelompok": 10, "Tindakan": 12, "Baris": 6, "NIK": 18,
                  "NKK": 18, "Nama": 20, "Tempat, Tgl Lahir": 16, "Alamat (Kode Desa)": 24,
                  "Keterangan": 20}  # fmt: skip
KINDS = {"D": "baris sama persis", "K1": "NIK sama, orang sama", "K2": "NIK sama, orang berbeda",
         "K3": "orang sama, NIK berbeda"}  # fmt: skip
ACTIONS = {"kept": "dipertahankan", "removed": "dihapus", "held": "ditahan", "review": "ditinjau"}


def _records(frame: pd.DataFrame) -> pd.DataFrame:
    """Each row as the columns a reviewer reads: row, NIK, name, birth, address."""
    born = frame["tanggal_lahir"].astype("datetime64[s]").dt.strftime("%d-%m-%Y")
    place = frame["tempat_lahir"].astype("string").fillna("")
    address = frame["alamat"].astype("string").fillna("")
    return pd.DataFrame({
        "Baris": frame["sumber_baris"].astype("Int64"),
        "NIK": frame["nik"].astype("string"),
        "Nama": frame["nama"].astype("string"),
        "Tempat, Tgl Lahir": (place + ", " + born.astype("string").fillna("")).str.strip(", "),
        "Alamat (Kode Desa)": address + " (" + frame["kode_desa"].astype("string").fillna("") + ")",
    }, index=frame.index)  # fmt: skip


def review_pairs(duplicates: pd.DataFrame) -> pd.DataFrame:
    """The K3 groups to review as pairs: each group's first row beside each other row (a
    reviewer who says SAMA or BEDA for every pair has decided the whole group)."""
    k3 = duplicates[(duplicates["kind"] == "K3") & (duplicates["action"] == "review")]
    shown = _records(k3)
    first = ~k3["group_id"].duplicated()
    lead = shown[first.to_numpy()].assign(group=k3["group_id"][first])
    rest = shown[~first.to_numpy()].assign(
        group=k3["group_id"][~first], score=k3["score"].round(4), reason=k3["reason"]
    )
    pairs = rest.merge(lead, on="group", how="left", suffixes=(" 2", " 1"))
    pairs = pairs.rename(columns={"group": "Kelompok", "score": "Peluang", "reason": "Alasan"})
    pairs.insert(0, "No", range(1, len(pairs) + 1))
    return pairs.assign(**{VERDICT: None})[REVIEW_HEADER]


def _settled(rows: pd.DataFrame) -> pd.DataFrame:
    out = _records(rows)
    out.insert(0, "Jenis", rows["kind"].map({k: f"{k}: {v}" for k, v in KINDS.items()}))
    out.insert(1, "Kelompok", rows["group_id"])
    out.insert(2, "Tindakan", rows["action"].map(ACTIONS))
    out.insert(5, "NKK", rows["nkk"].astype("string"))
    out["Keterangan"] = rows["reason"]
    out.insert(0, "No", range(1, len(out) + 1))
    return out[SETTLED_HEADER]


def _cells(frame: pd.DataFrame) -> list[list]:
    """Rows of Python values for xlsxwriter: numbers as numbers, text as text, gaps empty."""
    columns = []
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values.dtype):
            columns.append([None if pd.isna(v) else v for v in values.astype(object)])
        else:
            text = values.astype("string")
            columns.append(text.astype(object).where(text.notna(), None).tolist())
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _instructions(wb, counts: dict[str, int], election_date: dt.date | None) -> None:
    ws = wb.add_worksheet("PETUNJUK")
    title = wb.add_format({"bold": True, "font_size": 14})
    bold = wb.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    text = wb.add_format({"text_wrap": True, "valign": "top"})
    day = election_date.strftime("%d-%m-%Y") if election_date else "-"
    lines = [
        (title, TITLE),
        (text, f"Hari pemungutan suara: {day}. Dibuat oleh dp4kit {__version__}."),
        (None, ""),
        (bold, f"TINJAUAN: {counts['review']} pasangan perlu keputusan Anda."),
        (text, "Setiap baris adalah dua data penduduk dengan NIK berbeda yang menurut model K3 "
               "mungkin orang yang sama. Bandingkan Data 1 dan Data 2 (nama, tempat dan tanggal "
               "lahir, alamat); periksa KK atau KTP-el bila perlu."),
        (text, "Pilih di kolom Keputusan: SAMA = orang yang sama (Data 2 dihapus dari DP4 pada "
               "proses berikutnya); BEDA = dua orang berbeda (keduanya tetap di DP4). Biarkan "
               "kosong bila belum diputuskan."),
        (text, "Peluang: peluang menurut model bahwa keduanya orang yang sama (0 sampai 1). "
               "Alasan: perbandingan yang dipakai model. Kembar dan saudara kandung sering "
               "mirip: putuskan BEDA bila jenis kelamin atau nama depan berbeda."),
        (text, "Simpan berkas ini sebagai .xlsx, lalu jalankan ekspor berikutnya dengan "
               "--decisions duplicates.xlsx. Keputusan berlaku untuk pasangan NIK itu pada "
               "setiap proses berikutnya."),
        (None, ""),
        (bold, f"DITAHAN: {counts['held']} baris. Satu NIK dipakai oleh orang berbeda; "
               "data ditahan dari DP4 sampai diperbaiki di SIAK."),
        (bold, f"SELESAI: {counts['settled']} baris. Data ganda yang sudah ditangani dp4kit "
               "(D: baris sama persis; K1: NIK sama, orang sama; K3 yang sudah diputuskan); "
               "tidak perlu tindakan."),
        (None, ""),
        (text, "Data pribadi (UU 27/2022): simpan dan musnahkan berkas ini seperti data SIAK."),
    ]  # fmt: skip
    for r, (fmt, line) in enumerate(lines):
        ws.set_row(r, row_height([line], [INSTRUCTIONS_WIDTH]) * (1.4 if r == 0 else 1))
        ws.write_string(r, 0, line, fmt)
    ws.set_column(0, 0, INSTRUCTIONS_WIDTH)
    print_setup(ws, [INSTRUCTIONS_WIDTH], None, landscape=False)


def write_review_workbook(path: Path, duplicates: pd.DataFrame, election_date: dt.date | None,
                          max_rows: int = EXCEL_MAX_ROWS) -> int:  # fmt: skip
    """Write duplicates.xlsx; returns its number of rows (every row of `duplicates` is on it,
    a pair's records once each)."""
    pairs = review_pairs(duplicates)
    under_review = (duplicates["kind"] == "K3") & (duplicates["action"] == "review")
    held = duplicates[(duplicates["action"] == "held") & ~under_review]
    settled = duplicates[(duplicates["action"] != "held") & ~under_review]
    counts = {"review": len(pairs), "held": len(held), "settled": len(settled)}
    wb = new_workbook(path, TITLE)
    _instructions(wb, counts, election_date)
    day = election_date.strftime("%d-%m-%Y") if election_date else "-"
    sheets = [
        (REVIEW_SHEET, [[f"{TITLE} (hari pemungutan suara {day})"],
                        ["Isi kolom Keputusan: SAMA (orang yang sama) atau BEDA (orang berbeda). "
                         "Lihat lembar PETUNJUK."], []],
         REVIEW_HEADER, _cells(pairs)),
        ("DITAHAN", [["NIK SAMA, ORANG BERBEDA: PERBAIKI DI SIAK"], []], SETTLED_HEADER,
         _cells(_settled(held))),
        ("SELESAI", [["DATA GANDA YANG SUDAH DITANGANI (TIDAK PERLU TINDAKAN)"], []],
         SETTLED_HEADER, _cells(_settled(settled))),
    ]  # fmt: skip
    add_sheets(wb, sheets[:1], max_rows, WIDTHS, print_ready=True, wrap=WRAP,
               choices={VERDICT: list(VERDICTS)})  # fmt: skip
    add_sheets(
        wb,
        sheets[1:],
        max_rows,
        SETTLED_WIDTHS,
        print_ready=True,
        wrap=["Jenis", "Nama", "Tempat, Tgl Lahir", "Alamat (Kode Desa)", "Keterangan"],
    )
    wb.close()
    return len(duplicates)
