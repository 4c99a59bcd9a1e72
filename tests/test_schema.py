"""The schema file and the rule catalog agree; every rule is documented."""

from __future__ import annotations

from dp4kit.rules import catalog
from dp4kit.rules.validate import default_schema_path, load_rule_checks

from conftest import ROOT


def test_schema_severity_matches_the_catalog():
    for rule in load_rule_checks(default_schema_path()):
        assert rule.code in catalog.RULES, rule.code
        expected = catalog.RULES[rule.code].severity
        assert bool(rule.check.raise_warning) == (expected != catalog.ERROR), rule.code


def test_every_catalog_rule_is_checked_or_from_the_reader():
    in_schema = {r.code for r in load_rule_checks(default_schema_path())}
    assert set(catalog.RULES) - in_schema == {"BARIS_RUSAK"}


def test_every_rule_is_in_docs():
    docs = (ROOT / "docs" / "rules.md").read_text()
    missing = [code for code in catalog.RULES if f"`{code}`" not in docs]
    assert missing == []
