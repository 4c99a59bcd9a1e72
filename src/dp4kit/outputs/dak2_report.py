"""`dak2.xlsx`: the DAK2 report a person prints and signs (Indonesian titles).

Sheets: `Ringkasan` (regency totals, data date, source fingerprints, tool version, signature
block), one `DAK2 …` sheet per regency (kecamatan rows, a bold total row and a population
pyramid drawn as a native Excel chart) and one sheet per breakdown. Totals are SUM formulas
with their value stored, so the file shows correct numbers before any recalculation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from xlsxwriter.utility import xl_rowcol_to_cell

from dp4kit.aggregate import AGE_BANDS, Aggregates
from dp4kit.outputs.xlsx import new_workbook, print_setup, sheet_name

# (group title, [(column, title)]): the two header rows of the DAK2 tables.
COUNT_GROUPS = (
    ("Penduduk", [("laki_laki", "Laki-laki"), ("perempuan", "Perempuan"), ("jumlah", "Jumlah")]),
    ("Kartu Keluarga", [("jumlah_kk", "Jumlah KK")]),
    ("Wajib KTP", [("wajib_ktp_laki_laki", "Laki-laki"), ("wajib_ktp_perempuan", "Perempuan"),
                   ("wajib_ktp_jumlah", "Jumlah")]),
    ("Pemilih (DP4)", [("pemilih_laki_laki", "Laki-laki"), ("pemilih_perempuan", "Perempuan"),
                       ("pemilih_jumlah", "Jumlah")]),
)  # fmt: skip
TOPIC_TITLES = {
    "umur": ("Umur", "Kelompok Umur"),
    "agama": ("Agama", "Agama"),
    "status_kawin": ("Status Kawin", "Status Perkawinan"),
    "pendidikan": ("Pendidikan", "Pendidikan Terakhir"),
    "pekerjaan": ("Pekerjaan", "Jenis Pekerjaan"),
    "disabilitas": ("Disabilitas", "Penyandang Disabilitas"),
}
TITLE = "DATA AGREGAT KEPENDUDUKAN PER KECAMATAN (DAK2)"
EMPTY_NOTE = "Tidak ada penduduk dalam data"


@dataclass(frozen=True)
class ReportInfo:
    """What the summary sheet states about the data set (no timestamps: same input, same file)."""

    reference_date: dt.date  # ages, wajib KTP and pemilih are as of this day
    sources: Sequence[tuple[str, int, str]]  # (file name, rows, sha256)
    tool_version: str
    region_master: str


class _Formats:
    def __init__(self, wb) -> None:
        border = {"border": 1, "valign": "vcenter"}
        self.title = wb.add_format({"bold": True, "font_size": 13})
        self.bold = wb.add_format({"bold": True})
        self.head = wb.add_format(
            {**border, "bold": True, "bg_color": "#DDEBF7", "align": "center", "text_wrap": True}
        )
        self.text = wb.add_format(border)
        self.number = wb.add_format({**border, "num_format": "#,##0"})
        self.total_text = wb.add_format({**border, "bold": True, "top": 2, "bg_color": "#F2F2F2"})
        self.total = wb.add_format(
            {**border, "bold": True, "top": 2, "bg_color": "#F2F2F2", "num_format": "#,##0"}
        )
        self.sub_text = wb.add_format({**border, "bold": True, "bg_color": "#F7F7F7"})
        self.sub = wb.add_format(
            {**border, "bold": True, "bg_color": "#F7F7F7", "num_format": "#,##0"}
        )
        self.muted = wb.add_format({**border, "italic": True, "font_color": "#7F7F7F"})
        self.mono = wb.add_format({"font_name": "Courier New", "font_size": 9})


def _with_wajib_total(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(
        wajib_ktp_jumlah=table["wajib_ktp_laki_laki"] + table["wajib_ktp_perempuan"]
    )


def _count_columns() -> list[str]:
    return [col for _, cols in COUNT_GROUPS for col, _ in cols]


def _write_counts_table(ws, f: _Formats, top: int, lead: list[tuple[str, int]], rows: list[list],
                        counts: pd.DataFrame, notes: list[str] | None,
                        total_label: str, lead_totals: int = 0) -> int:  # fmt: skip
    """Two header rows (grouped), body rows, a bold total row of SUM formulas.
    `lead` = leading (title, width) columns whose values are in `rows`; the last `lead_totals`
    of them are numbers totalled too. Returns the next row."""
    n_lead = len(lead)
    for j, (title, width) in enumerate(lead):
        ws.merge_range(top, j, top + 1, j, title, f.head)
        ws.set_column(j, j, width)
    col = n_lead
    for group, cols in COUNT_GROUPS:
        if len(cols) > 1:
            ws.merge_range(top, col, top, col + len(cols) - 1, group, f.head)
        else:
            ws.write_string(top, col, group, f.head)
        for k, (_, title) in enumerate(cols):
            ws.write_string(top + 1, col + k, title, f.head)
        col += len(cols)
    ws.set_column(n_lead, col - 1, 11)
    if notes is not None:
        ws.merge_range(top, col, top + 1, col, "Keterangan", f.head)
        ws.set_column(col, col, 26)
    ws.set_row(top, 30)
    first = top + 2
    values = counts[_count_columns()].to_numpy(dtype="int64")
    for i, lead_values in enumerate(rows):
        r = first + i
        for j, value in enumerate(lead_values):
            if isinstance(value, str):
                ws.write_string(r, j, value, f.text)
            else:
                ws.write_number(r, j, value, f.text)
        for k, value in enumerate(values[i]):
            ws.write_number(r, n_lead + k, int(value), f.number)
        if notes is not None:
            ws.write_string(r, n_lead + values.shape[1], notes[i], f.muted if notes[i] else f.text)
    total = first + len(rows)
    ws.merge_range(total, 0, total, n_lead - 1 - lead_totals, total_label, f.total_text)
    lead_sums = [sum(r[j] for r in rows) for j in range(n_lead - lead_totals, n_lead)]
    sums = [*lead_sums, *values.sum(axis=0).tolist()]
    for k, column in enumerate(range(n_lead - lead_totals, n_lead + values.shape[1])):
        if rows:
            span = f"{xl_rowcol_to_cell(first, column)}:{xl_rowcol_to_cell(total - 1, column)}"
            ws.write_formula(total, column, f"=SUM({span})", f.total, int(sums[k]))
        else:
            ws.write_number(total, column, 0, f.total)
    if notes is not None:
        ws.write_blank(total, n_lead + values.shape[1], None, f.total_text)
    return total + 1


def _summary(wb, f: _Formats, agg: Aggregates, info: ReportInfo) -> None:
    ws = wb.add_worksheet("Ringkasan")
    ws.write_string(0, 0, "RINGKASAN " + TITLE, f.title)
    facts = [
        ("Semester", agg.semester),
        ("Keadaan data (umur dihitung) per", info.reference_date.strftime("%d-%m-%Y")),
        ("Versi dp4kit", info.tool_version),
        ("Master wilayah", info.region_master),
    ]
    row = 2
    for key, value in facts:
        ws.write_string(row, 0, key, f.bold)
        ws.write_string(row, 3, value)
        row += 1
    ws.write_string(row, 0, "Berkas sumber (nama, baris, SHA-256)", f.bold)
    for name, n_rows, sha in info.sources:
        ws.write_string(row, 3, f"{name} ({n_rows:,} baris)".replace(",", "."))
        ws.write_string(row + 1, 3, sha, f.mono)
        row += 2
    row += 1
    ws.write_string(row, 0, "Jumlah per kabupaten/kota", f.bold)
    regencies = _with_wajib_total(agg.levels["kabkota"])
    dak2 = agg.dak2
    kec_count = dak2.groupby("kode_kabkota").size()
    empty = dak2[dak2["tanpa_penduduk"]].groupby("kode_kabkota").size()
    rows = [
        [i, str(r.kode_kabkota), str(r.kabkota), int(kec_count.get(r.kode_kabkota, 0))]
        for i, r in enumerate(regencies.itertuples(index=False), 1)
    ]
    notes = [
        f"{int(empty[code])} kecamatan tanpa penduduk" if code in empty.index else ""
        for code in regencies["kode_kabkota"]
    ]
    lead = [("No", 5), ("Kode", 9), ("Kabupaten/Kota", 26), ("Kecamatan", 10)]
    top = row + 1
    end = _write_counts_table(ws, f, top, lead, rows, regencies, notes, "JUMLAH", lead_totals=1)
    ws.freeze_panes(top + 2, 0)
    print_setup(ws, None, (top, top + 1))
    sign = end + 2
    right = len(lead) + len(_count_columns()) - 4
    for k, text in enumerate(
        ["…………………, ……………… 20……", "Kepala Dinas Kependudukan dan Pencatatan Sipil", "", "", "",
         "(………………………………………)", "NIP. ………………………"]
    ):  # fmt: skip
        ws.write_string(sign + k, right, text)


def _regency_sheet(wb, f: _Formats, agg: Aggregates, info: ReportInfo, code: str,
                   used: set[str]) -> None:  # fmt: skip
    dak2 = _with_wajib_total(agg.dak2[agg.dak2["kode_kabkota"] == code])
    first = dak2.iloc[0]
    ws = wb.add_worksheet(sheet_name(f"DAK2 {first['kabkota']}", used))
    titles = [
        TITLE,
        f"Provinsi: {first['provinsi']} ({first['kode_provinsi']})",
        f"Kabupaten/Kota: {first['kabkota']} ({code})",
        f"Semester {agg.semester}; keadaan per {info.reference_date.strftime('%d-%m-%Y')}",
    ]
    for r, text in enumerate(titles):
        ws.write_string(r, 0, text, f.title if r == 0 else f.bold)
    top = len(titles) + 1
    rows = [
        [i, str(r.kode_kecamatan), str(r.kecamatan)]
        for i, r in enumerate(dak2.itertuples(index=False), 1)
    ]
    notes = [EMPTY_NOTE if empty else "" for empty in dak2["tanpa_penduduk"]]
    lead = [("No", 5), ("Kode Kecamatan", 11), ("Kecamatan", 24)]
    end = _write_counts_table(ws, f, top, lead, rows, dak2, notes, "JUMLAH")
    ws.freeze_panes(top + 2, 3)
    print_setup(ws, None, None)  # the pyramid below would repeat the table header
    ws.set_h_pagebreaks([end + 1])  # the pyramid starts a page of its own
    _pyramid(wb, ws, f, agg, code, str(first["kabkota"]), end + 2)


def _pyramid(wb, ws, f: _Formats, agg: Aggregates, code: str, name: str, top: int) -> None:
    """Age-band table (L, P, Jumlah) and a native bar chart drawn as a population pyramid.
    Men are plotted from a helper column of negative counts (hidden), labelled as positive."""
    ages = agg.breakdowns["umur"]
    ages = ages[ages["kode_kecamatan"].str.slice(0, 5) == code]
    by_band = ages.groupby("umur")[["laki_laki", "perempuan"]].sum()
    by_band = by_band.reindex(AGE_BANDS, fill_value=0)
    ws.write_string(top, 0, f"PIRAMIDA PENDUDUK {name}", f.bold)
    head = top + 1
    ws.set_row(head, 30)
    for j, title in enumerate(["Kelompok Umur", "Laki-laki", "Perempuan", "Jumlah"]):
        ws.write_string(head, 1 + j, title, f.head)
    helper = 20  # column U: men as negative numbers, for the chart only
    ws.write_string(head, helper, "L (grafik)", f.head)
    for i, band in enumerate(AGE_BANDS):
        r = head + 1 + i
        men, women = (int(v) for v in by_band.loc[band])
        ws.write_string(r, 1, band, f.text)
        ws.write_number(r, 2, men, f.number)
        ws.write_number(r, 3, women, f.number)
        ws.write_number(r, 4, men + women, f.number)
        ws.write_number(r, helper, -men)
    total = head + 1 + len(AGE_BANDS)
    ws.write_string(total, 1, "JUMLAH", f.total_text)
    for j in (2, 3, 4):
        span = f"{xl_rowcol_to_cell(head + 1, j)}:{xl_rowcol_to_cell(total - 1, j)}"
        ws.write_formula(total, j, f"=SUM({span})", f.total, int(by_band.sum().sum()
                         if j == 4 else by_band.iloc[:, j - 2].sum()))  # fmt: skip
    ws.set_column(helper, helper, 10, None, {"hidden": True})
    sheet = ws.get_name()
    chart = wb.add_chart({"type": "bar"})
    categories = [sheet, head + 1, 1, total - 1, 1]
    chart.add_series({
        "name": "Laki-laki", "categories": categories,
        "values": [sheet, head + 1, helper, total - 1, helper],
        "fill": {"color": "#4472C4"}, "gap": 0, "overlap": 100,
    })  # fmt: skip
    chart.add_series({
        "name": "Perempuan", "categories": categories,
        "values": [sheet, head + 1, 3, total - 1, 3], "fill": {"color": "#ED7D31"},
    })  # fmt: skip
    chart.set_title({"name": f"Piramida Penduduk {name}", "name_font": {"size": 11}})
    chart.set_x_axis({"num_format": "#,##0;#,##0", "major_gridlines": {"visible": True}})
    chart.set_y_axis({"label_position": "low"})
    chart.set_legend({"position": "bottom"})
    chart.show_hidden_data()
    chart.set_size({"width": 620, "height": 400})
    ws.insert_chart(head, 6, chart)


def _breakdown_sheet(wb, f: _Formats, agg: Aggregates, topic: str, used: set[str]) -> None:
    sheet_title, column_title = TOPIC_TITLES[topic]
    table = agg.breakdowns[topic]
    names = agg.dak2.set_index("kode_kecamatan")[["kabkota", "kecamatan"]]
    table = table.join(names, on="kode_kecamatan")
    ws = wb.add_worksheet(sheet_name(sheet_title, used))
    ws.write_string(0, 0, f"PENDUDUK MENURUT {column_title.upper()} DAN JENIS KELAMIN", f.title)
    ws.write_string(1, 0, f"Semester {agg.semester}; per kecamatan", f.bold)
    top = 3
    ws.set_row(top, 30)
    header = ["Kabupaten/Kota", "Kode Kecamatan", "Kecamatan", column_title, "Laki-laki",
              "Perempuan", "Jumlah"]  # fmt: skip
    for j, (title, width) in enumerate(zip(header, (24, 11, 24, 30, 11, 11, 11), strict=True)):
        ws.write_string(top, j, title, f.head)
        ws.set_column(j, j, width)
    r = top + 1
    subtotal_rows = []
    for code, group in table.groupby("kode_kecamatan", sort=True):
        start = r
        lead = [str(group["kabkota"].iloc[0]), str(code), str(group["kecamatan"].iloc[0])]
        labels = group[topic].astype(str).tolist()
        counts = group[["laki_laki", "perempuan", "jumlah"]].to_numpy(dtype="int64")
        for label, row in zip(labels, counts, strict=True):
            for j, value in enumerate(lead):
                ws.write_string(r, j, value, f.text)
            ws.write_string(r, 3, label, f.text)
            for k, value in enumerate(row):
                ws.write_number(r, 4 + k, int(value), f.number)
            r += 1
        ws.merge_range(r, 0, r, 3, f"Jumlah Kecamatan {lead[2]}", f.sub_text)
        for k, value in enumerate(counts.sum(axis=0)):
            span = f"{xl_rowcol_to_cell(start, 4 + k)}:{xl_rowcol_to_cell(r - 1, 4 + k)}"
            ws.write_formula(r, 4 + k, f"=SUM({span})", f.sub, int(value))
        subtotal_rows.append(r)
        r += 1
    ws.merge_range(r, 0, r, 3, "JUMLAH", f.total_text)
    totals = table[["laki_laki", "perempuan", "jumlah"]].sum()
    for k, value in enumerate(totals):
        cells = ",".join(xl_rowcol_to_cell(s, 4 + k) for s in subtotal_rows)
        formula = f"=SUM({cells})" if len(subtotal_rows) <= 200 else None
        if formula:
            ws.write_formula(r, 4 + k, formula, f.total, int(value))
        else:
            ws.write_number(r, 4 + k, int(value), f.total)
    ws.freeze_panes(top + 1, 0)
    print_setup(ws, None, (top, top), landscape=False)


def write_dak2_report(path: Path, agg: Aggregates, info: ReportInfo) -> None:
    """Write dak2.xlsx (see the module docstring); the same aggregates give the same bytes."""
    wb = new_workbook(path, TITLE)
    f = _Formats(wb)
    _summary(wb, f, agg, info)
    used = {"RINGKASAN"}
    for code in agg.levels["kabkota"]["kode_kabkota"]:
        _regency_sheet(wb, f, agg, info, str(code), used)
    for topic in TOPIC_TITLES:
        if topic in agg.breakdowns:
            _breakdown_sheet(wb, f, agg, topic, used)
    wb.close()
