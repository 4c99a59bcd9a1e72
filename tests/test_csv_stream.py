"""The streamed CSV reader gives exactly what the whole-file reader gives, in batches."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dp4kit.errors import InputFileError
from dp4kit.io.csv_reader import read_csv
from dp4kit.io.csv_stream import StartAgain, stream_csv
from dp4kit.io.sources import BROKEN_SCHEMA

from conftest import SAMPLE, VALID

HEADER = list(VALID)


def streamed(path: Path, block_size: int):
    """The batches put together, starting again with the hints a read gives."""
    scanned = None
    while True:
        try:
            info, batches = stream_csv(path, block_size, scanned)
            parts = list(batches)
            break
        except StartAgain as again:
            block_size, scanned = again.block_size, again.scanned
    table = pa.concat_tables([p.table for p in parts])
    rows = pa.chunked_array([p.rows for p in parts], pa.int64())
    broken = pa.concat_tables([BROKEN_SCHEMA.empty_table(), *(p.broken for p in parts)])
    return table, rows, broken, info, len(parts)


def assert_same(path: Path, block_size: int = 1 << 12) -> int:
    table, rows, broken, info = read_csv(path)
    s_table, s_rows, s_broken, s_info, batches = streamed(path, block_size)
    assert s_table.equals(table)
    assert s_rows.to_pylist() == rows.to_pylist()
    assert s_broken.equals(broken)
    assert s_info.to_dict() == info.to_dict()
    return batches


def lines(rows: list[dict]) -> list[str]:
    values = [[{**VALID, **r}[h] or "" for h in HEADER] for r in rows]
    return [",".join(HEADER), *(",".join(v) for v in values)]


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    return path


def test_the_sample_in_many_batches_equals_the_whole_read():
    assert assert_same(SAMPLE / "siak_sample.csv", 1 << 14) > 10


def test_broken_rows_in_every_batch_keep_every_row_number(tmp_path):
    text = lines([{"NIK": f"32041106099700{i:02d}"} for i in range(90)])
    for at in (2, 3, 40, 41, 42, 77, len(text)):  # a row too many fields, one too few
        text.insert(at, "x,y" if at % 2 else ",".join(["z"] * (len(HEADER) + 2)))
    text.insert(60, "")  # an empty line is a broken row too
    batches = assert_same(write(tmp_path, ("\n".join(text) + "\n").encode()), 1 << 10)
    assert batches > 5


@pytest.mark.parametrize("where", [1, 50, 90])
def test_nul_bytes_and_ragged_rows_together(tmp_path, where):
    text = lines([{"NAMA_LGKP": f"ORANG {i}"} for i in range(90)])
    text[where] = text[where].replace("ORANG", "OR\x00ANG")
    text.insert(30, "x")
    assert_same(write(tmp_path, ("\n".join(text) + "\n").encode()), 1 << 10)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_file_in_a_windows_encoding(tmp_path, encoding):
    text = "\n".join(lines([{"NAMA_LGKP": "JOSÉ MUÑOZ"}] * 50)) + "\n"
    assert_same(write(tmp_path, text.encode(encoding)), 1 << 10)


def test_bytes_cp1252_lacks_are_read_as_latin1(tmp_path):
    data = ("\n".join(lines([{}] * 20)) + "\n").encode().replace(b"MERDEKA", b"MERD\x81KA")
    assert_same(write(tmp_path, data))
    assert streamed(write(tmp_path, data), 1 << 10)[3].encoding == "latin-1"


def test_odd_cp1252_lines_in_a_utf8_file_across_batches(tmp_path):
    text = lines([{"NAMA_LGKP": "RENÉ UTF"}] + [{}] * 80)
    data = [t.encode() for t in text]
    for at in (3, 40, 70):
        data[at] = data[at].replace(b"BUDI", "ANDRÉ".encode("cp1252"))
    path = write(tmp_path, b"\n".join(data) + b"\n")
    assert_same(path, 1 << 10)
    info = streamed(path, 1 << 10)[3]
    assert info.encoding == "utf-8+cp1252" and "line 4, 41, 71" in info.warnings[0]


def test_bom_quotes_windows_line_ends_and_blank_records(tmp_path):
    text = lines([{"ALAMAT": '"JL. A, NO. 1"'}, {}, {"NIK": "3204110609970002"}] * 20)
    text.insert(10, "," * (len(HEADER) - 1))  # every field empty: dropped, not counted
    data = ("\ufeff" + "\r\n".join(text) + "\r\n").encode()
    assert_same(write(tmp_path, data), 1 << 10)


def test_a_line_longer_than_the_block_starts_again(tmp_path):
    text = lines([{}] * 30)
    text[5] = text[5].replace("JL. MERDEKA NO. 1", "JL. " + "PANJANG " * 2000)
    path = write(tmp_path, ("\n".join(text) + "\n").encode())
    assert assert_same(path, 1 << 10) > 1


def test_semicolons_and_an_empty_file(tmp_path):
    text = "\n".join(t.replace(",", ";") for t in lines([{}] * 10)) + "\n"
    assert_same(write(tmp_path, text.encode()))
    with pytest.raises(InputFileError, match="the file is empty"):
        stream_csv(write(tmp_path, b"\n \n"))


@pytest.mark.parametrize("late", [b"ANDR\xc9 CP", b"BU\x00DI"])
def test_a_surprise_past_the_sniff_window_starts_the_read_again(tmp_path, late):
    """A cp1252 line, or a NUL byte, far into a file that began as UTF-8."""
    text = lines([{"NAMA_LGKP": "RENÉ UTF"}] + [{}] * 2000)  # about 300 KB
    data = [t.encode() for t in text]
    data[1900] = data[1900].replace(b"BUDI", late)
    path = write(tmp_path, b"\n".join(data) + b"\n")
    info, batches = stream_csv(path, 1 << 14)
    with pytest.raises(StartAgain) as again:
        list(batches)
    assert again.value.scanned is not None  # what a pass over the bytes found, for next time
    assert assert_same(path, 1 << 14) > 5
