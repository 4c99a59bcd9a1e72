"""Readers: every format, encodings, delimiters, row numbers and bad inputs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dp4kit.errors import InputFileError
from dp4kit.io.readers import read_inputs
from dp4kit.validation import validate

from conftest import AS_OF, SAMPLE, VALID

HEADER = list(VALID)


def csv_text(rows: list[dict], sep: str = ",") -> str:
    lines = [sep.join(HEADER)]
    values = [[{**VALID, **r}[h] for h in HEADER] for r in rows]
    lines += [sep.join("" if v is None else v for v in row) for row in values]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes(tmp_path, name, text.encode(encoding))


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("sep", [",", ";", "|", "\t"])
def test_delimiters_are_detected(tmp_path, sep):
    path = write(tmp_path, "a.csv", csv_text([{}, {"NIK": "3204110609970002"}], sep))
    raw = read_inputs([path])
    assert raw.sources[0].delimiter == sep
    assert raw.table["NIK"].to_pylist() == ["3204110609970001", "3204110609970002"]
    assert raw.table["sumber_baris"].to_pylist() == [2, 3]


def test_utf8_bom_and_quoted_fields(tmp_path):
    text = csv_text([{"ALAMAT": '"JL. A, NO. 1"', "NAMA_LGKP": '"SITI ""ITI"" AMINAH"'}])
    raw = read_inputs([write(tmp_path, "a.csv", "\ufeff" + text)])
    assert raw.table.column_names[0] == "NIK"
    assert raw.table["ALAMAT"].to_pylist() == ["JL. A, NO. 1"]
    assert raw.table["NAMA_LGKP"].to_pylist() == ['SITI "ITI" AMINAH']


def test_latin1_falls_back_with_a_warning(tmp_path):
    path = write(tmp_path, "a.csv", csv_text([{"NAMA_LGKP": "JOSÉ MUÑOZ"}]), "latin-1")
    raw = read_inputs([path])
    assert raw.table["NAMA_LGKP"].to_pylist() == ["JOSÉ MUÑOZ"]
    assert raw.sources[0].encoding == "cp1252"
    assert "not valid UTF-8" in raw.sources[0].warnings[0]


def test_missing_markers_become_null_and_spaces_are_trimmed(tmp_path):
    path = write(
        tmp_path,
        "a.csv",
        csv_text([{"NO_RT": "-", "NO_RW": "NULL", "TMPT_LHR": "  "}, {"NIK": " 3204110609970002"}]),
    )
    raw = read_inputs([path])
    assert raw.table["NO_RT"].to_pylist() == [None, "1"]
    assert raw.table["NO_RW"].to_pylist() == [None, "2"]
    assert raw.table["TMPT_LHR"].to_pylist() == [None, "BANDUNG"]
    assert raw.table["NIK"].to_pylist() == ["3204110609970001", "3204110609970002"]


def test_ragged_rows_are_reported_and_the_rest_keep_their_row_numbers(tmp_path):
    good = csv_text([{}, {"NIK": "3204110609970002"}, {"NIK": "3204110609970003"}]).splitlines()
    lines = [good[0], good[1], "3204110609970009,TOO,FEW", good[2], "", good[3], good[3] + ",EXTRA"]
    path = write(tmp_path, "a.csv", "\n".join(lines) + "\n")
    raw = read_inputs([path])
    assert raw.table["sumber_baris"].to_pylist() == [2, 4, 6]  # line 5 is blank
    assert raw.broken_rows["sumber_baris"].to_pylist() == [3, 7]
    report = validate([path], as_of=AS_OF)
    rules = report.failures.select(["row", "rule"]).to_pylist()
    assert {"row": 3, "rule": "BARIS_RUSAK"} in rules and {"row": 7, "rule": "BARIS_RUSAK"} in rules
    assert (report.rows, report.rows_with_errors) == (5, 2)


def test_xlsx_title_rows_numbers_and_sheets(tmp_path):
    import openpyxl

    path = tmp_path / "a.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Ringkasan"
    ws.append(["bukan data"])
    data = wb.create_sheet("BIODATA")
    data.append(["DATA PENDUDUK DESA SANGKANHURIP"])
    data.append([])
    data.append(HEADER)
    data.append([VALID[h] for h in HEADER])
    as_number = dict(VALID, NIK=3204110609970002, NO_KK=3204110101100001, NO_RT=1, NO_KEL=2001)
    data.append([as_number[h] for h in HEADER])
    wb.save(path)
    report = validate([path], as_of=AS_OF, sheet="BIODATA")
    rows = report.failures.select(["row", "rule", "message"]).to_pylist()
    assert [(r["row"], r["rule"]) for r in rows] == [(5, "NIK_FORMAT"), (5, "NKK_FORMAT")]
    assert "stored as a number" in rows[0]["message"]
    assert report.sources[0].sheet == "BIODATA"
    with pytest.raises(InputFileError, match="no sheet 'X'"):
        read_inputs([path], sheet="X")


def test_parquet_file_and_hive_folder(tmp_path):
    table = pa.table({h: [VALID[h], VALID[h]] for h in HEADER})
    table = table.set_column(0, "NIK", pa.array(["3204110609970001", "3204110609970002"]))
    pq.write_table(table, tmp_path / "one.parquet")
    pq.write_to_dataset(table, tmp_path / "folder", partition_cols=["NO_KEC"])
    for path in (tmp_path / "one.parquet", tmp_path / "folder"):
        report = validate([path], as_of=AS_OF)
        assert (report.rows, report.rows_with_errors) == (2, 0), path


def test_several_inputs_are_one_table(tmp_path):
    a = write(tmp_path, "a.csv", csv_text([{}]))
    b = write(tmp_path, "b.csv", csv_text([{"NIK": "x"}], ";").lower())
    report = validate([a, b], as_of=AS_OF)
    assert report.rows == 2
    assert report.failures.select(["file", "row", "rule"]).to_pylist() == [
        {"file": str(b), "row": 2, "rule": "NIK_FORMAT"}
    ]


def test_sample_xlsx_reads_like_a_spreadsheet():
    raw = read_inputs([SAMPLE / "siak_sample.xlsx"])
    assert raw.table["sumber_baris"][0].as_py() == 4  # two title rows, then the header


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("empty.csv", b"", "the input is empty"),
        ("blank.csv", b"\n\n  \n", "the file is empty"),
        ("header.csv", b"NIK,NO_KK,NAMA_LGKP\n", "header but no data rows"),
        ("binary.csv", b"\x00\x01\x02garbage\x00", "not a text file"),
        ("zip.csv", b"PK\x03\x04rest", "zip/xlsx"),
        ("nodelim.csv", b"just one column\nvalue\n", "cannot find a delimiter"),
        ("corrupt.xlsx", b"PK\x03\x04 this is not a workbook", "cannot read as an Excel workbook"),
        ("plain.xlsx", b"NIK,NAMA\n1,2\n", "cannot read as an Excel workbook"),
        ("bad.parquet", b"PAR1 nonsense", "cannot read as Parquet"),
        ("data.json", b"{}", "unsupported file type '.json'"),
    ],
)
def test_bad_inputs_raise_a_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        read_inputs([path])


def test_duplicate_header_is_an_error(tmp_path):
    path = write(tmp_path, "a.csv", "NIK,nik\n1,2\n")
    with pytest.raises(InputFileError, match="appears twice"):
        read_inputs([path])


def test_windows_line_endings(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(csv_text([{}, {"NIK": "3204110609970002"}]).replace("\n", "\r\n").encode())
    raw = read_inputs([path])
    assert raw.table["FLAG_STATUS"].to_pylist() == ["0", "0"]
    assert raw.table["sumber_baris"].to_pylist() == [2, 3]


def test_unreadable_file_is_a_clear_error(tmp_path, monkeypatch):
    import dp4kit.io.readers as readers

    def denied(path, sheet=None):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(readers, "read_table", denied)
    with pytest.raises(InputFileError, match="cannot read: Permission denied"):
        read_inputs([tmp_path / "a.csv"])


# --- hostile and unlucky inputs (issue 11) ------------------------------------------------


@pytest.mark.parametrize("row", [3, 2802])
def test_a_nul_byte_is_a_broken_row_wherever_it_stands(tmp_path, row):
    rows = [{"NIK": f"32041106099{i:05d}"} for i in range(1, 2900)]
    lines = csv_text(rows).splitlines()
    lines[row - 1] = lines[row - 1].replace("BUDI", "BU\x00DI")
    raw = read_inputs([write(tmp_path, "a.csv", "\n".join(lines) + "\n")])
    assert raw.broken_rows["sumber_baris"].to_pylist() == [row]
    assert "BU\\x00DI" in raw.broken_rows["teks"][0].as_py()
    assert raw.table.num_rows == 2898 and raw.sources[0].rows == 2899


def test_a_line_longer_than_a_read_block_is_read(tmp_path):
    long_text = "JL. " + "PANJANG " * 3_000_000  # 24 MB, more than the 16 MB block
    lines = csv_text([{}, {"NIK": "3204110609970002"}]).splitlines()
    lines.insert(2, "x" * len(long_text))  # one field: a broken row
    lines[1] = lines[1].replace("JL. MERDEKA NO. 1", long_text)
    raw = read_inputs([write(tmp_path, "a.csv", "\n".join(lines) + "\n")])
    assert raw.table["sumber_baris"].to_pylist() == [2, 4]
    assert raw.table["ALAMAT"][0].as_py() == long_text.strip()
    assert raw.broken_rows["sumber_baris"].to_pylist() == [3]


def test_a_header_longer_than_the_sniff_window(tmp_path):
    extra = [f"KOLOM_TAMBAHAN_{i:05d}" for i in range(6000)]  # about 130 KB of header
    text = ",".join(HEADER + extra) + "\n" + ",".join([VALID[h] for h in HEADER] + [""] * 6000)
    raw = read_inputs([write(tmp_path, "a.csv", text + "\n")])
    assert raw.table.column_names[: len(HEADER)] == HEADER
    assert raw.table.num_columns == len(HEADER) + 6000 + 2  # + source file and row
    assert raw.broken_rows.num_rows == 0


def test_one_cp1252_line_in_a_utf8_file_is_decoded_alone(tmp_path):
    body = csv_text([{"NAMA_LGKP": "RENÉ UTF"}, {"NAMA_LGKP": "ANDRÉ CP"}, {}]).splitlines()
    data = b"\n".join(line.encode("cp1252" if "ANDR" in line else "utf-8") for line in body)
    raw = read_inputs([write_bytes(tmp_path, "a.csv", data + b"\n")])
    assert raw.table["NAMA_LGKP"].to_pylist() == ["RENÉ UTF", "ANDRÉ CP", "BUDI SANTOSO"]
    assert raw.sources[0].warnings == [
        "1 line(s) not valid UTF-8 (line 3): read as cp1252; check the names on them"
    ]


def test_a_stray_cell_far_away_is_refused_before_reading(tmp_path):
    import xlsxwriter

    path = tmp_path / "a.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("BIODATA")
    ws.write_row(0, 0, HEADER)
    ws.write_string(1_048_575, 16_383, "x")  # XFD1048576
    wb.close()
    assert path.stat().st_size < 10_000
    with pytest.raises(InputFileError, match="spans 1,048,576 rows and 16,384 columns"):
        read_inputs([path])


def test_a_parquet_folder_reads_the_union_of_its_files_columns(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    pq.write_table(pa.table({"NIK": ["1"], "NAMA_LGKP": ["A"]}), folder / "a.parquet")
    pq.write_table(pa.table({"NIK": ["2"], "NAMA_LGKP": ["B"], "NO_KK": ["9"]}),
                   folder / "b.parquet")  # fmt: skip
    table = read_inputs([folder]).table
    assert table["NO_KK"].to_pylist() == [None, "9"]
    pq.write_table(pa.table({"NIK": [3], "NAMA_LGKP": ["C"]}), folder / "c.parquet")
    with pytest.raises(InputFileError, match="disagree on a column's type"):
        read_inputs([folder])
