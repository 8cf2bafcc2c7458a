#!/usr/bin/env python3
"""Check the locked dependencies against a public advisory database (pip-audit, PyPI's advisories).

Exit 1 when a locked package has a known vulnerability, naming it and the fixed versions. When the advisory
source cannot be reached, or does not know our packages, pip-audit alone would print "No known
vulnerabilities found"; this says plainly how many packages were not audited and why, and does not fail the
run for an outage that is not ours.

Usage: python .ci/audit_dependencies.py  (from the repository root; uses uv and the dev dependencies)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# uv from PATH, else the copy pip installed (as the Makefile finds it).
EXPORT_AS = ["--format", "requirements-txt", "-o"]
# Every package is pinned by the lock, so no resolution: one advisory lookup per package, as JSON.
AUDIT_OPTIONS = ["--no-deps", "--disable-pip", "--progress-spinner", "off", "--format", "json"]
UV = [shutil.which("uv") or sys.executable] + ([] if shutil.which("uv") else ["-m", "uv"])


def locked_requirements(directory: Path) -> Path:
    path = directory / "requirements.txt"
    subprocess.run(
        [*UV, "export", "--frozen", "--no-emit-project", "--no-hashes", "--quiet", *EXPORT_AS, str(path)],
        cwd=ROOT,
        check=True,
    )
    return path


def run_pip_audit(requirements: Path) -> tuple[int, str, str]:
    result = subprocess.run(
        [*UV, "run", "--frozen", "pip-audit", "-r", str(requirements), *AUDIT_OPTIONS],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return result.returncode, result.stdout, result.stderr


def verdict(returncode: int, stdout: str, stderr: str) -> tuple[int, list[str]]:
    """The exit status and the lines to print for one pip-audit run."""
    try:
        report: dict[str, Any] = json.loads(stdout)
    except ValueError:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return 0, [f"audit: NOT AUDITED: the advisory database could not be reached ({last[:300]})"]
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    lines = []
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            name = f"{dependency['name']} {dependency.get('version', '')}"
            lines.append(f"audit: {name}: {vuln['id']} (fixed in {fixed})")
    audited = len(dependencies) - len(skipped)
    if skipped and not audited:
        reason = skipped[0]["skip_reason"][:200]
        return 0, [
            f"audit: NOT AUDITED: the advisory database answered for none of {len(skipped)} packages"
            f" ({reason})"
        ]
    if skipped:
        lines.append(
            f"audit: {len(skipped)} of {len(dependencies)} locked packages were NOT audited: the advisory "
            f"database did not answer for them (first: {skipped[0]['skip_reason'][:200]})"
        )
    if vulnerable:
        lines.append(f"audit: {len(vulnerable)} locked package(s) have known vulnerabilities; upgrade them")
        return 1, lines
    if returncode not in (0, 1):
        return 0, [*lines, f"audit: pip-audit ended with status {returncode}: {stderr.strip()[-300:]}"]
    lines.append(f"audit: no known vulnerabilities in the {audited} locked packages audited")
    return 0, lines


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        status, lines = verdict(*run_pip_audit(locked_requirements(Path(directory))))
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
