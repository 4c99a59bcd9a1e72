"""Every command's options against the one settings table (config.SETTINGS): one name, flag,
type, help and default per setting, whichever command takes it; the same key in the job file
and the DP4KIT_ variables."""

from __future__ import annotations

import pytest
from typer.main import get_command

from dp4kit.cli import app
from dp4kit.cli.options import TYPES, declarations
from dp4kit.config import DEPRECATED, SETTINGS, env_name, read_environment

COMMANDS = get_command(app).commands
# Options that belong to one command only (not settings of an export; `--out` of diff and
# sample names their own kind of output)
OWN = {
    "validate": {"as_of", "report", "output_format", "fail_on"},
    "run": {"config", "show_config"},
    "verify": {"output_format"},
    "diff": {"out", "output_format"},
    "sample": {"out", "rows", "seed", "invalid", "duplicates", "kabkota"},
    "init-config": {"force"},
    "combine": {"engine", "spark_master", "fuzzy"},
    "export": {"each", "jobs", "engine", "spark_master"},
    "split": set(),
}


def options(command: str) -> dict:
    return {p.name: p for p in COMMANDS[command].params if p.param_type_name == "option"}


@pytest.mark.parametrize("command", ["validate", "export", "aggregate", "run", "combine"])
def test_each_setting_has_the_tables_flag_type_and_help(command):
    for name, option in options(command).items():
        if name in OWN.get(command, ()) or (command == "run" and name in DEPRECATED):
            continue
        assert name in SETTINGS, f"{command} --{name} is not in config.SETTINGS"
        spec = SETTINGS[name]
        flags = [part for decl in declarations(name) for part in decl.split("/")]
        assert sorted(option.opts + option.secondary_opts) == sorted(flags), (command, name)
        assert option.help == spec.help, (command, name)
        assert option.type_descriptor.annotation == TYPES[spec.kind], (command, name)
        assert option.multiple == (spec.kind in ("paths", "choices")), (command, name)
        limits = {"number": (0.0, 1.0), "count": (0, None)}.get(spec.kind, (None, None))
        assert (option.min, option.max) == limits, (command, name)
        if command != "run":  # run: "not given" (None), so the job file can decide
            assert option.default == (None if spec.kind in ("paths", "choices") else spec.default)
        else:
            assert option.default is None, name


def test_run_takes_every_setting_and_export_every_export_setting():
    run_only = {"max_rejected_share", "keep", "log_format", "log_file", "quiet"}
    assert set(SETTINGS) - {"inputs"} <= set(options("run"))
    export = set(options("export")) - OWN["export"]
    assert set(SETTINGS) - {"inputs"} - run_only == export
    assert set(options("aggregate")) == export - {"mask", "csv", "k3_review"}


def test_the_old_spellings_are_hidden_and_the_rest_of_the_options_belong_to_one_command():
    hidden = {name for name, option in options("run").items() if option.hidden}
    assert hidden == set(DEPRECATED)
    for command in ("validate", "export", "aggregate", "run", "combine"):
        assert set(options(command)) - set(SETTINGS) - set(DEPRECATED) == OWN.get(command, set())
    for command in ("verify", "diff", "sample", "init-config"):  # no export settings there
        assert set(options(command)) == OWN[command]


def test_every_setting_is_an_environment_variable_of_the_same_name():
    environ = {env_name("keep"): "3", env_name("level"): "desa", env_name("csv"): "yes"}
    assert read_environment(environ) == {"keep": 3, "level": ["desa"], "csv": True}
    assert env_name("group_readable") == "DP4KIT_GROUP_READABLE"
