"""The quickstart example runs start to end against the real server."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import SDK, Server, new_tenant, script_env


def test_quickstart(server: Server) -> None:
    tenant = new_tenant()
    done = subprocess.run(
        [sys.executable, str(SDK / "examples" / "quickstart.py"), server.target, tenant],
        capture_output=True,
        text=True,
        timeout=120,
        env=script_env(),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("search") and "note://billing" in lines[0]
    assert "person/ada -> org/analytical-engines -> place/london" in done.stdout
    assert "cite    [1] note://billing" in done.stdout and "answer  by extractive:" in done.stdout
    assert "> Invoices are sent on the first day of every month [1]" in done.stdout
    assert "job     SUCCEEDED" in done.stdout and "found   upload://zebras.md" in done.stdout
