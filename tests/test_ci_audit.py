"""The CI's dependency audit: a known vulnerability fails the run; an unreachable advisory source says so."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("audit_dependencies", ROOT / ".ci" / "audit_dependencies.py")
assert spec is not None
assert spec.loader is not None
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def report(*dependencies: dict) -> str:
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_a_known_vulnerability_fails_naming_the_package_and_the_fix():
    status, lines = audit.verdict(
        1,
        report(
            {"name": "django", "version": "5.2.0", "vulns": [{"id": "PYSEC-1", "fix_versions": ["5.2.1"]}]},
            {"name": "redis", "version": "5.0", "vulns": []},
        ),
        "",
    )
    assert status == 1
    assert "audit: django 5.2.0: PYSEC-1 (fixed in 5.2.1)" in lines


def test_a_clean_audit_passes_and_says_how_many_were_audited():
    status, lines = audit.verdict(0, report({"name": "redis", "version": "5.0", "vulns": []}), "")
    assert (status, lines) == (0, ["audit: no known vulnerabilities in the 1 locked packages audited"])


def test_an_advisory_source_that_knows_none_of_the_packages_is_said_plainly_not_passed_as_clean():
    skipped = {"name": "redis", "skip_reason": "Dependency not found on PyPI and could not be audited"}
    status, lines = audit.verdict(0, report(skipped, skipped), "")
    assert status == 0
    assert lines[0].startswith("audit: NOT AUDITED: the advisory database answered for none of 2 packages")


def test_an_unreachable_advisory_source_is_said_plainly():
    status, lines = audit.verdict(1, "", "requests.exceptions.ConnectionError: Max retries exceeded")
    assert status == 0
    assert lines == [
        "audit: NOT AUDITED: the advisory database could not be reached "
        "(requests.exceptions.ConnectionError: Max retries exceeded)"
    ]
