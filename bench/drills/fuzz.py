"""Fuzz: schemathesis against /api/schema/, every operation, signed in (a customer's JWT, then
a staff member's), with the checks that say a response broke the contract: no 5xx, and every
status code, content type, header and body is one the schema documents.

schemathesis lives in its own venv (bench/.venv-fuzz, from requirements-bench.txt): it and
hypothesis register pytest plugins, which .venv's test runs should not load.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.drills.common import Outcome, fresh_store, say
from bench.env import BASE_DIR
from bench.procs import Server

VENV = BASE_DIR / "bench" / ".venv-fuzz"
REQUIREMENTS = BASE_DIR / "requirements-bench.txt"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance")


def schemathesis() -> Path:
    """bench/.venv-fuzz/bin/schemathesis, installed from requirements-bench.txt when missing or stale."""
    binary = VENV / "bin" / "schemathesis"
    stamp = VENV / ".installed-requirements-bench"
    if binary.exists() and stamp.exists() and stamp.read_text() == REQUIREMENTS.read_text():
        return binary
    print("  - installing requirements-bench.txt into bench/.venv-fuzz ...", flush=True)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
                   check=True)
    stamp.write_text(REQUIREMENTS.read_text())
    return binary


def run(backend_name: str = "sqlite", *, quick: bool = False) -> Outcome:
    examples = 1 if quick else 50
    outcome = Outcome("fuzz")
    binary = schemathesis()
    backend, setup = fresh_store(backend_name, "drill-fuzz", {})
    say(f"{backend.label}: schemathesis ({CHECKS}) on every operation of /api/schema/, "
        f"{examples} examples each, phases examples/coverage/fuzzing/stateful, as customer then staff")
    with Server(backend, backend.env()) as server, tempfile.TemporaryDirectory(prefix="h5fuzz-") as workdir:
        runs = {}
        for who in ("customer", "staff"):  # both at once: half the wall time
            command = [str(binary), "run", f"{server.url}/api/schema/",
                       "-H", f"Authorization: Bearer {setup[who]['jwt']}",
                       "--checks", CHECKS, "--max-examples", str(examples), "--seed", "20261123",
                       "--request-timeout", "20", "--no-color", "--warnings", "off"]
            (Path(workdir) / who).mkdir()
            runs[who] = subprocess.Popen(command, cwd=Path(workdir) / who, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
        for who, process in runs.items():
            text, errors = process.communicate(timeout=1800)
            summary = re.search(r"Test cases:\s*\n\s*(.+)", text)
            operations = re.search(r"Tested: (\d+)", text)
            say(f"as {who}: exit {process.returncode}; operations tested: {operations.group(1) if operations else '?'}; "
                f"{summary.group(1).strip() if summary else text.strip().splitlines()[-1:]}")
            if process.returncode != 0:
                failures = text[text.find("FAILURES"):] if "FAILURES" in text else text[-6000:]
                print("\n".join("      " + line for line in failures[:8000].splitlines()), flush=True)
                if errors.strip():
                    print(errors[-2000:], flush=True)
            outcome.check(process.returncode == 0, f"as {who}: no 5xx, no response outside the schema")
    return outcome
