"""``python -m celigo_api.simulator``: start, print the URLs and tokens, stop cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests


def test_it_serves_from_the_command_line_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celigo_api.simulator",
            "--port",
            "0",
            "--seed",
            "demo",
            "--quiet",
            "--faults",
            "latency=0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        base_url = first.rsplit(" ", 1)[-1].strip()
        tokens = [process.stdout.readline() for _ in range(2)]
        assert "token=sim-demo-token" in tokens[0]
        assert "token=sim-eu-token" in tokens[1]
        response = requests.get(
            f"{base_url}/v1/tokenInfo", headers={"Authorization": "Bearer sim-demo-token"}, timeout=5
        )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_it_documents_the_fault_spec_in_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "celigo_api.simulator", "--help"], capture_output=True, text=True, check=True
    )
    assert "revoke_at" in result.stdout
    assert "--next-page-form" in result.stdout


def test_it_refuses_a_bad_fault_spec() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "celigo_api.simulator", "--faults", "teapot=1"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unknown fault" in result.stderr
