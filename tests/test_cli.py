"""The CLI end to end with Typer's CliRunner on the committed sample data."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import openpyxl
import pyarrow.csv as pv
import pytest
from typer.testing import CliRunner

from dp4kit.cli import app
from dp4kit.validation import validate

from conftest import AS_OF, SAMPLE, SAMPLE_VALIDATION, VALID

runner = CliRunner()
SAMPLE_CSV = SAMPLE / "siak_sample.csv"
ASOF = ["--as-of", AS_OF.isoformat()]


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.startswith("dp4kit ")


def test_validate_sample_text_output_has_rows_not_niks():
    result = run("validate", SAMPLE_CSV, *ASOF)
    assert result.exit_code == 1
    summary = SAMPLE_VALIDATION
    assert "NIK_FORMAT" in result.output
    assert f"{summary['rows']:,} rows, {summary['rows_with_errors']} with errors" in result.output
    assert "Kepmendagri 300.2.2-2138/2025" in result.output
    niks = pv.read_csv(
        SAMPLE_CSV, convert_options=pv.ConvertOptions(column_types={"NIK": "string"})
    )
    present = {n for n in niks["NIK"].to_pylist() if n and n in result.output}
    assert present == set()


def test_json_output_equals_the_library_report():
    result = run("validate", SAMPLE_CSV, *ASOF, "--format", "json")
    assert result.exit_code == 1
    printed = json.loads(result.output)
    expected = validate([SAMPLE_CSV], as_of=AS_OF).to_dict()
    printed.pop("elapsed_seconds"), expected.pop("elapsed_seconds")
    assert printed == expected
    assert printed["summary"] == SAMPLE_VALIDATION
    assert len(printed["fingerprint"]) == 64


def test_reports_in_every_format(tmp_path):
    for suffix in ("csv", "json", "xlsx"):
        result = run("validate", SAMPLE_CSV, *ASOF, "--report", tmp_path / f"r.{suffix}")
        assert result.exit_code == 1, result.output
    table = pv.read_csv(
        tmp_path / "r.csv", convert_options=pv.ConvertOptions(column_types={"value": "string"})
    )
    assert table.num_rows == SAMPLE_VALIDATION["failures"]
    assert table.column_names == ["file", "row", "column", "rule", "severity", "value", "message"]
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["failures"]) == SAMPLE_VALIDATION["failures"]
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["Ringkasan", "Temuan"]
    findings = wb["Temuan"]
    assert findings.freeze_panes == "A2"
    assert findings.auto_filter.ref == "A1:G178"
    assert [c.value for c in findings[1]] == [
        "Berkas",
        "Baris",
        "Kolom",
        "Aturan",
        "Tingkat",
        "Nilai",
        "Keterangan",
    ]
    values = [r[5].value for r in findings.iter_rows(min_row=2) if r[3].value == "NIK_GANDA"]
    assert values and all(isinstance(v, str) and len(v) == 16 for v in values)


def test_report_in_a_missing_folder_is_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("validate", SAMPLE_CSV, *ASOF, "--report", blocker / "r.csv")
    assert result.exit_code == 2
    assert "cannot write the report" in result.output


def test_report_with_unknown_suffix_is_a_usage_error(tmp_path):
    result = run("validate", SAMPLE_CSV, *ASOF, "--report", tmp_path / "r.txt")
    assert result.exit_code == 2
    assert "report must end in" in result.output


def test_clean_file_exits_0_and_warnings_exit_1_only_when_asked(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(",".join(VALID) + "\n" + ",".join(VALID.values()) + "\n")
    assert run("validate", path, *ASOF).exit_code == 0
    warn = tmp_path / "warn.csv"
    warn.write_text(",".join(VALID) + "\n" + ",".join(dict(VALID, NO_RT="").values()) + "\n")
    assert run("validate", warn, *ASOF).exit_code == 0
    assert run("validate", warn, *ASOF, "--fail-on", "warning").exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "nope.csv"], "no such file or folder"),
        (["validate", SAMPLE_CSV, "--as-of", "27-11-2024"], "--as-of must be a date"),
        (["validate", SAMPLE_CSV, "--profile", "kpu"], "unknown profile 'kpu'"),
        (["validate", SAMPLE_CSV, "--schema", "none.yaml"], "cannot read the schema file"),
        (["validate", SAMPLE / "siak_sample.truth.csv"], "cannot detect the column layout"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0


def test_corrupt_xlsx_is_exit_2(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04garbage")
    result = run("validate", path)
    assert result.exit_code == 2 and "cannot read as an Excel workbook" in result.output


def test_two_table_siak_form():
    result = run(
        "validate",
        SAMPLE / "siak_penduduk.csv",
        "--keluarga",
        SAMPLE / "siak_keluarga.csv",
        *ASOF,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["summary"]["rows_with_errors"] == 0


def test_person_without_family_is_an_error(tmp_path):
    families = (SAMPLE / "siak_keluarga.csv").read_text().splitlines()
    short = tmp_path / "keluarga.csv"
    short.write_text("\n".join(families[:-1]) + "\n")  # drop the last family
    result = run(
        "validate", SAMPLE / "siak_penduduk.csv", "--keluarga", short, *ASOF, "--format", "json"
    )
    rules = {r["code"]: r["rows"] for r in json.loads(result.output)["rules"]}
    assert result.exit_code == 1
    assert rules["KK_TIDAK_DITEMUKAN"] >= 1
    assert rules["WILAYAH_TIDAK_DIKENAL"] == rules["KK_TIDAK_DITEMUKAN"]


def test_office_schema_adds_rules(tmp_path):
    schema = tmp_path / "kantor.yaml"
    schema.write_text(
        "schema_type: dataframe\ncolumns:\n  pekerjaan:\n    checks:\n"
        "    - value: [TNI]\n      options: {check_name: notin, name: PEKERJAAN_TNI_CEK,"
        " raise_warning: true}\n"
    )
    result = run("validate", SAMPLE_CSV, *ASOF, "--schema", schema, "--format", "json")
    rules = {r["code"]: r for r in json.loads(result.output)["rules"]}
    assert rules["PEKERJAAN_TNI_CEK"]["severity"] == "warning"
    assert rules["PEKERJAAN_TNI_CEK"]["rows"] > 0


def test_office_check_that_cannot_run_is_a_one_line_error(tmp_path):
    schema = tmp_path / "kantor.yaml"
    schema.write_text(
        "schema_type: dataframe\ncolumns:\n  usia:\n    checks:\n"
        "    - value: '^[0-9]+$'\n      options: {check_name: str_matches, name: USIA_TEKS}\n"
    )
    result = run("validate", SAMPLE_CSV, *ASOF, "--schema", schema)
    assert result.exit_code == 2
    assert result.output.startswith("dp4kit: error: rule USIA_TEKS: the check cannot run on")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_sample_is_deterministic(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert run("sample", "--out", a, "--rows", 500, "--seed", 3).exit_code == 0
    assert run("sample", "--out", b, "--rows", 500, "--seed", 3).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a.truth.csv").exists()
    assert run("sample", "--out", tmp_path / "c.json").exit_code == 2


@pytest.mark.parametrize(
    "command", ["validate", "export", "aggregate", "run", "init-config", "verify", "diff", "sample"]
)
def test_every_command_has_help_with_examples(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output


def test_help_does_not_import_pandas():
    code = (
        "import sys; from dp4kit.cli import app; "
        "print(any(m in sys.modules for m in ('pandas', 'pyarrow', 'pandera')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_python_dash_m_runs():
    out = subprocess.run(
        [sys.executable, "-m", "dp4kit", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("dp4kit ")


def test_sample_without_its_extra_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "faker", None)  # as if dp4kit[sample] were not installed
    result = run("sample", "--out", tmp_path / "s.csv", "--rows", "50")
    assert result.exit_code == 2
    assert "pip install 'dp4kit[sample]'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s.csv").exists()


def test_every_option_of_every_command_has_help():
    import typer.main

    group = typer.main.get_command(app)
    missing = [f"{name} {param.opts[0]}" for name, command in group.commands.items()
               for param in command.params
               if param.param_type_name == "option" and not (param.help or "").strip()]  # fmt: skip
    assert missing == []
    shared = [p.help for c in ("export", "run") for p in group.commands[c].params
              if p.opts[0] == "--k3-model"]  # fmt: skip
    assert len(shared) == 2 and shared[0] == shared[1]  # one wording in every command


def test_help_prose_has_no_hard_line_breaks():
    """Prose paragraphs are one line each (the help wraps them to the terminal); example
    paragraphs keep their lines behind click's no-rewrap marker."""
    import re

    import typer.main

    group = typer.main.get_command(app)
    broken = [name for name, command in group.commands.items()
              for paragraph in re.split(r"\n\s*\n", command.help or "")
              if "\n" in paragraph and not paragraph.startswith("\b\n  ")]  # fmt: skip
    assert broken == []


COMMANDS = ["validate", "export", "aggregate", "run", "init-config", "verify", "diff", "sample",
            "combine", "split"]  # fmt: skip


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_reads_at_80_columns(command):
    result = runner.invoke(app, [command, "--help"] if command else ["--help"],
                           env={"COLUMNS": "80"})  # fmt: skip
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80, result.output
    assert "…" not in result.output
    cut = [line for line in lines if re.search(r"[a-z,]\.\.\.$", line)]  # click's "rows and..."
    assert cut == []
    for typed in ("<str>", "<path>", "<bool>", "<int", "<float", "<list", "{"):
        assert typed not in result.output, (typed, result.output)
    usage = lines[0]
    pattern = (
        r"Usage: dp4kit( [a-z-]+)? \[OPTIONS\]( \[?[A-Z]+(\.\.\.)?\]?)*( COMMAND \[ARGS\]\.\.\.)?"
    )
    assert re.fullmatch(pattern, usage), usage


def test_export_help_names_its_values_shortly():
    output = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "80"}).output
    assert output.splitlines()[0] == "Usage: dp4kit export [OPTIONS] INPUT..."
    flags = [
        "--election-date DATE",
        "--memory-limit SIZE",
        "--k3-partitions N",
        "--exclude-nik PATH",
        "--jobs N",
        "--engine [local|spark]",
        "--out DIR",
    ]
    assert [flag for flag in flags if flag not in output] == []
    assert "--mask / --no-mask  " in output  # a flag takes no value
    assert len(output.splitlines()) < 110  # it was 211 lines of squeezed tables


@pytest.mark.parametrize(("args", "expected"), [
    (["export", "x.csv", "--election-date", "2024-11-27"],
     "dp4kit: error: Missing option '--out' / '-o'; see 'dp4kit export --help'"),
    (["export", "x.csv", "--out", "o", "--electon-date", "2024-11-27"],
     "dp4kit: error: No such option: --electon-date (Possible options: --election-date); "
     "see 'dp4kit export --help'"),
    (["exprt"], "dp4kit: error: No such command 'exprt'. Did you mean 'export'?; "
                "see 'dp4kit --help'"),
    (["sample", "--out", "s.csv", "--rows", "many"],
     "dp4kit: error: Invalid value for '--rows' / '-n': Input should be a valid integer, "
     "unable to parse string as an integer; see 'dp4kit sample --help'"),
    (["export", "x.csv", "--out", "o", "--election-date", "2024-11-27", "--engine", "gpu"],
     "dp4kit: error: Invalid value for '--engine': Value error, 'gpu' is not one of 'local', "
     "'spark'; see 'dp4kit export --help'"),
    (["verify"], "dp4kit: error: Missing argument 'folder'; see 'dp4kit verify --help'"),
])  # fmt: skip
def test_every_usage_error_is_one_line_with_the_help_to_read(args, expected):
    result = run(*args)
    assert result.exit_code == 2
    assert result.output == expected + "\n"


def test_after_each_command_a_line_says_what_the_exit_code_means(tmp_path):
    out = tmp_path / "dp4"
    exported = run("export", SAMPLE_CSV, "--out", out, "--election-date", "2024-11-27")
    assert exported.exit_code == 1
    assert exported.output.splitlines()[-1] == (
        f"exit 1 (alert): 59 rows rejected (why: {out}/rejected.xlsx); 30 held, one NIK for "
        f"different people (fix in SIAK: {out}/duplicates.xlsx, sheet DITAHAN); 26 voters to "
        f"review (same person, two NIKs?): {out}/duplicates.xlsx, sheet TINJAUAN"
    )  # fmt: skip
    checked = run("verify", out)
    assert checked.output.splitlines()[-1] == (
        "exit 0: the folder is as its export wrote it, safe to hand over"
    )
    validated = run("validate", SAMPLE_CSV, *ASOF)
    assert validated.output.splitlines()[-1] == (
        "exit 1: 59 rows with errors, 92 with warnings (rules and example rows above); every "
        "failure: add --report FILE"
    )  # fmt: skip
