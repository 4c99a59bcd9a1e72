"""Canonical column names and SIAK code tables: the one place they are defined."""

from __future__ import annotations

# Provenance columns carried by every record to every report.
SOURCE_FILE = "sumber_file"
SOURCE_ROW = "sumber_baris"  # 1-based, header = row 1, as a spreadsheet shows it

REQUIRED = (
    "nik", "nkk", "nama", "tanggal_lahir", "jenis_kelamin", "status_kawin", "kode_desa",
)  # fmt: skip
TEXT = (
    "nik", "nkk", "nama", "tempat_lahir", "jenis_kelamin", "status_kawin", "agama", "pekerjaan",
    "pendidikan", "hubungan_keluarga", "disabilitas", "golongan_darah", "kewarganegaraan",
    "nama_ibu", "alamat", "rt", "rw", "kode_provinsi", "kode_kabkota", "kode_kecamatan",
    "kode_desa", "provinsi", "kabkota", "kecamatan", "desa",
)  # fmt: skip
PERSON_TEXT = TEXT[: TEXT.index("rw") + 1]  # what a profile maps; the rest is derived
CANONICAL = (*TEXT, "tanggal_lahir", "status_aktif", "usia")

# SIAK code tables (../shared/DOMAIN.md). Keys are codes or labels as they appear in exports,
# upper-cased; values are the canonical labels. Exports carry either form.
JENIS_KELAMIN = {"1": "L", "L": "L", "LAKI-LAKI": "L", "LAKI LAKI": "L", "LAKI": "L",
                 "2": "P", "P": "P", "PEREMPUAN": "P", "WANITA": "P"}  # fmt: skip
STATUS_KAWIN_LABELS = ("BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI")
STATUS_KAWIN = {
    "1": "BELUM KAWIN", "2": "KAWIN", "3": "CERAI HIDUP", "4": "CERAI MATI",
    **{label: label for label in STATUS_KAWIN_LABELS},
    # Newer SIAK labels: every kawin/cerai variant counts as (ever) married.
    "KAWIN TERCATAT": "KAWIN", "KAWIN BELUM TERCATAT": "KAWIN",
    "CERAI HIDUP TERCATAT": "CERAI HIDUP", "CERAI HIDUP BELUM TERCATAT": "CERAI HIDUP",
    "CERAI MATI TERCATAT": "CERAI MATI", "CERAI MATI BELUM TERCATAT": "CERAI MATI",
}  # fmt: skip
AGAMA_LABELS = ("ISLAM", "KRISTEN", "KATHOLIK", "HINDU", "BUDHA", "KONGHUCU",
                "KEPERCAYAAN/LAINNYA")  # fmt: skip
AGAMA = {**{str(i): v for i, v in enumerate(AGAMA_LABELS, 1)},
         **{v: v for v in AGAMA_LABELS}, "KATOLIK": "KATHOLIK", "BUDDHA": "BUDHA",
         "KHONGHUCU": "KONGHUCU", "KEPERCAYAAN": "KEPERCAYAAN/LAINNYA",
         "LAINNYA": "KEPERCAYAAN/LAINNYA"}  # fmt: skip
HUBUNGAN_KELUARGA_LABELS = ("KEPALA KELUARGA", "SUAMI", "ISTRI", "ANAK", "MENANTU", "CUCU",
                            "ORANGTUA", "MERTUA", "FAMILI LAIN", "PEMBANTU", "LAINNYA")  # fmt: skip
HUBUNGAN_KELUARGA = {**{str(i): v for i, v in enumerate(HUBUNGAN_KELUARGA_LABELS, 1)},
                     **{v: v for v in HUBUNGAN_KELUARGA_LABELS}}  # fmt: skip
PENDIDIKAN_LABELS = ("TIDAK/BELUM SEKOLAH", "BELUM TAMAT SD/SEDERAJAT", "TAMAT SD/SEDERAJAT",
                     "SLTP/SEDERAJAT", "SLTA/SEDERAJAT", "DIPLOMA I/II",
                     "AKADEMI/DIPLOMA III/S. MUDA", "DIPLOMA IV/STRATA I", "STRATA II",
                     "STRATA III")  # fmt: skip
PENDIDIKAN = {**{str(i): v for i, v in enumerate(PENDIDIKAN_LABELS, 1)},
              **{v: v for v in PENDIDIKAN_LABELS}}  # fmt: skip
DISABILITAS_LABELS = ("FISIK", "NETRA/BUTA", "RUNGU/WICARA", "MENTAL/JIWA", "FISIK DAN MENTAL",
                      "LAINNYA")  # fmt: skip
DISABILITAS = {**{str(i): v for i, v in enumerate(DISABILITAS_LABELS, 1)},
               **{v: v for v in DISABILITAS_LABELS}, "0": None, "TIDAK ADA": None}  # fmt: skip
GOLONGAN_DARAH_LABELS = ("A", "B", "AB", "O", "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-",
                         "TIDAK TAHU")  # fmt: skip
GOLONGAN_DARAH = {**{str(i): v for i, v in enumerate(GOLONGAN_DARAH_LABELS, 1)},
                  **{v: v for v in GOLONGAN_DARAH_LABELS}}  # fmt: skip
# JENIS_PKRJN runs 1-89; only the codes the law or the aggregates need are named here, other
# codes are kept as they came. 6 TNI and 7 POLRI are the proxy for "active TNI/POLRI".
PEKERJAAN = {
    "1": "BELUM/TIDAK BEKERJA", "2": "MENGURUS RUMAH TANGGA", "3": "PELAJAR/MAHASISWA",
    "4": "PENSIUNAN", "5": "PEGAWAI NEGERI SIPIL", "6": "TNI", "7": "POLRI",
    "8": "PERDAGANGAN", "9": "PETANI/PEKEBUN", "88": "WIRASWASTA", "89": "LAINNYA",
    "TENTARA NASIONAL INDONESIA": "TNI", "TENTARA NASIONAL INDONESIA (TNI)": "TNI",
    "KEPOLISIAN RI": "POLRI", "KEPOLISIAN RI (POLRI)": "POLRI",
    "KEPOLISIAN REPUBLIK INDONESIA": "POLRI", "PNS": "PEGAWAI NEGERI SIPIL",
}  # fmt: skip
KEWARGANEGARAAN = {"WNI": "WNI", "WNA": "WNA", "1": "WNI", "2": "WNA"}

# A NIK/NKK in any text (15+ digits: also one with a digit missing or added), and its masked
# form: the first 12 digits kept (province, regency, district, birth date), the rest ****.
IDENTIFIER_PATTERN = r"(\d{12})\d{3,}"
MASKED_IDENTIFIER = r"\1****"

# Roll-ups written beside dak2 (which is per kecamatan): `--level` choices
ROLL_UPS = ("desa", "kabkota", "provinsi", "nasional")
