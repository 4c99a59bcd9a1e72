"""Rule codes: severity, the column they point at and a one-line explanation (docs/rules.md)."""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    column: str | None
    explanation: str


RULES = {
    r.code: r
    for r in (
        Rule("BARIS_RUSAK", ERROR, None,
             "The row has more or fewer fields than the header, or a NUL byte (broken CSV/xlsx "
             "row)."),
        Rule("NIK_FORMAT", ERROR, "nik",
             "NIK is not 16 digits (Excel number or 3.20411E+15 form, too short, repeated "
             "digits, serial 0000)."),
        Rule("NIK_TANGGAL", ERROR, "nik",
             "The birth date inside the NIK (DDMMYY, women DD+40) is not a real date."),
        Rule("NIK_PROVINSI", ERROR, "nik",
             "The NIK's first two digits are not a province code (e.g. 10)."),
        Rule("NKK_FORMAT", ERROR, "nkk", "NKK (family card number) is not 16 digits."),
        Rule("KK_TIDAK_DITEMUKAN", ERROR, "nkk",
             "The person's NO_KK is not in the family file (--keluarga): no address."),
        Rule("NAMA_KOSONG", ERROR, "nama", "The name is empty."),
        Rule("TANGGAL_LAHIR_INVALID", ERROR, "tanggal_lahir",
             "Birth date missing or not a date (DD-MM-YYYY expected; 00-00-0000 too)."),
        Rule("TANGGAL_LAHIR_MASA_DEPAN", ERROR, "tanggal_lahir",
             "Birth date after the reference date (--as-of)."),
        Rule("JENIS_KELAMIN_INVALID", ERROR, "jenis_kelamin",
             "Sex is not 1/L/LAKI-LAKI or 2/P/PEREMPUAN."),
        Rule("STATUS_KAWIN_INVALID", ERROR, "status_kawin",
             "Marital status is not 1-4 or a BELUM KAWIN/KAWIN/CERAI HIDUP/CERAI MATI label."),
        Rule("WILAYAH_TIDAK_DIKENAL", ERROR, "kode_desa",
             "The address village code is not in the Kepmendagri region master."),
        Rule("NIK_TGL_LAHIR_BEDA", WARNING, "tanggal_lahir",
             "The NIK's DDMMYY differs from the recorded birth date (NIKs never change)."),
        Rule("NIK_JENIS_KELAMIN_BEDA", WARNING, "jenis_kelamin",
             "The NIK's day (+40 for women) disagrees with the recorded sex."),
        Rule("NIK_WILAYAH_TIDAK_DIKENAL", WARNING, "nik",
             "The NIK's region of first registration (PP.KK.CC) is not a current kecamatan."),
        Rule("NIK_GANDA", WARNING, "nik",
             "The NIK appears on more than one row (export decides: same person or conflict)."),
        Rule("USIA_TIDAK_WAJAR", WARNING, "usia", "Age over 120 on the reference date."),
        Rule("RT_RW_KOSONG", WARNING, "rt", "RT or RW is empty."),
        Rule("NAMA_TIDAK_WAJAR", WARNING, "nama",
             "The name holds digits or symbols other than . , ' - (typing error?)."),
        Rule("AGAMA_INVALID", WARNING, "agama", "Religion is not a SIAK code or label."),
        Rule("TANGGAL_LAHIR_PENGGANTI", INFO, "tanggal_lahir",
             "Birth date is a SIAK placeholder (1 July or 31 December): the real date is "
             "unknown; not evidence of duplication."),
    )
}  # fmt: skip
