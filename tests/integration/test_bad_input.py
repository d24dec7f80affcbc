"""Bad input fails before anything is created, with one message that names the cause and the fix.

Each case runs the real site.yml against the local cloud (make local-up) and then
reads the AWS APIs to prove that nothing was created.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventory/local", "site.yml"]
RESOURCES = [sys.executable, str(ROOT / "tests/helpers/aws_resources.py")]


def run_site(*extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        [*PLAYBOOK, *extra], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, check=False
    )


def resources() -> dict:
    out = subprocess.run(RESOURCES, capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(out)


@pytest.fixture(autouse=True)
def clean_cloud():
    before = resources()
    assert before["total"] == 0, f"the local cloud is not empty before the test: {before}"
    yield
    after = resources()
    assert after["total"] == 0, f"a failed run created resources: {after}"


def backend_without(tmp_path: Path, missing: str) -> Path:
    src = ROOT / "examples/outsource-backend"
    for name in ("Dockerfile", "create-schema.sql", "insert-info.sql"):
        if name != missing:
            (tmp_path / name).write_text((src / name).read_text())
    return tmp_path


CASES = {
    # id: (extra vars as JSON, words the message must contain)
    "missing-db-password": ({"vault_db_password": ""}, ["vault_db_password", "secrets.yml"]),
    "missing-jwt-secret": ({"vault_jwt_secret": ""}, ["vault_jwt_secret", "secrets.yml"]),
    "missing-gemini-key": ({"vault_gemini_api_key": ""}, ["vault_gemini_api_key", "secrets.yml"]),
    "password-too-short": ({"vault_db_password": "Sh0rt!"}, ["8", "41"]),
    "password-too-long": ({"vault_db_password": "x" * 42}, ["8", "41"]),
    "password-with-at": ({"vault_db_password": "Hackathon@Pass123"}, ["@"]),
    "password-with-slash": ({"vault_db_password": "Hackathon/Pass123"}, ["/"]),
    "password-with-quote": ({"vault_db_password": 'Hackathon"Pass123'}, ['"']),
    "password-with-space": ({"vault_db_password": "Hackathon Pass123"}, ["space"]),
    "empty-region": ({"outsource_aws_region": ""}, ["outsource_aws_region"]),
    "malformed-region": ({"outsource_aws_region": "east"}, ["outsource_aws_region"]),
    "operator-cidr-world": ({"outsource_operator_cidr": "0.0.0.0/0"}, ["3306", "outsource_operator_cidr"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_variable_fails_before_creating_anything(case):
    extra, words = CASES[case]
    result = run_site("-e", json.dumps(extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    failed = [line for line in output.splitlines() if line.startswith(("fatal:", "failed:"))]
    assert len(failed) == 1, f"expected one failure, got: {failed}"
    for word in words:
        assert word in failed[0], f"{word!r} not in the failure message: {failed[0]}"
    # A password must never be printed, not even when it is the problem.
    if extra.get("vault_db_password"):
        assert extra["vault_db_password"] not in output


@pytest.mark.parametrize("missing", ["Dockerfile", "create-schema.sql", "insert-info.sql"])
def test_missing_backend_file_fails_before_creating_anything(tmp_path, missing):
    backend = backend_without(tmp_path, missing)
    result = run_site("-e", json.dumps({"outsource_backend_dir": str(backend)}))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    failed = [line for line in output.splitlines() if line.startswith(("fatal:", "failed:"))]
    assert len(failed) == 1, failed
    assert missing in failed[0] and "outsource_backend_dir" in failed[0], failed[0]


def test_local_cloud_not_running_names_make_local_up():
    # A port nothing listens on stands for a local cloud that was never started.
    result = run_site("-e", json.dumps({"outsource_aws_endpoint_url": "http://127.0.0.1:4597"}))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    failed = [line for line in output.splitlines() if line.startswith(("fatal:", "failed:"))]
    assert len(failed) == 1, failed
    assert "http://127.0.0.1:4597 does not answer" in failed[0] and "make local-up" in failed[0], failed[0]
