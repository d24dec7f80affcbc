"""Secrets never leak: not in -vvv output, the summary, the frontend file, or the task definition outside its env.

Runs the real playbooks at -vvv against the local cloud: deploy, redeploy, status,
teardown. The secrets are the local inventory's throwaway vault values.
"""

from __future__ import annotations

import json
import os
import subprocess

import boto3
import pytest
from conftest import ROOT, leaks, local_vault_secrets, secret_needles

PLAYBOOK = str(ROOT / ".venv/bin/ansible-playbook")
VAULT = ["--vault-id", f"local@{ROOT / 'inventory/local/vault-password.txt'}"]
# The env entries a task definition may carry secrets in.
SECRET_ENV = {"DATABASE_URL", "JWT_SECRET_KEY", "GEMINI_API_KEY"}


def run(*args: str, env_extra: dict | None = None) -> str:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", **(env_extra or {}))
    result = subprocess.run(
        [PLAYBOOK, "-i", "inventory/local", "-vvv", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


@pytest.fixture(scope="module")
def secrets():
    values = local_vault_secrets()
    assert set(values) == {"vault_db_password", "vault_jwt_secret", "vault_gemini_api_key"}
    # The throwaway DB password carries URL-special characters on purpose.
    assert any(c in values["vault_db_password"] for c in "#!%:?&+")
    return secret_needles(values)


def test_no_secret_in_any_output_file_or_task_definition(secrets, tmp_path):
    summary = tmp_path / "deploy.json"
    frontend = tmp_path / "api_base_url.dart"
    extra = ["-e", f"outsource_summary_file={summary}", "-e", f"outsource_frontend_file={frontend}"]
    outputs = {}
    try:
        outputs["site.yml"] = run("site.yml", *extra)
        outputs["redeploy"] = run("site.yml", "--tags", "redeploy", "-e", "redeploy_force=true", *extra)
        outputs["status"] = run("playbooks/status.yml")

        for name, text in outputs.items():
            assert not leaks(text, secrets), f"{name} -vvv output shows {leaks(text, secrets)}"
        for path in (summary, frontend):
            assert path.exists(), f"{path.name} was not written"
            assert not leaks(path.read_text(), secrets), f"{path.name} holds {leaks(path.read_text(), secrets)}"
        assert json.loads(summary.read_text())["health"] == {"status": "healthy"}

        ecs = boto3.client("ecs", endpoint_url="http://127.0.0.1:4566", region_name="us-east-1")
        definition = ecs.describe_task_definition(taskDefinition="outsource-api")["taskDefinition"]
        container = definition["containerDefinitions"][0]
        env = {e["name"]: e["value"] for e in container.get("environment", [])}
        assert set(env) >= SECRET_ENV
        without_env = {**definition, "containerDefinitions": [{**container, "environment": []}]}
        outside_env = json.dumps(without_env, default=str)
        assert not leaks(outside_env, secrets), f"the task definition holds {leaks(outside_env, secrets)}"
        other_env = json.dumps({k: v for k, v in env.items() if k not in SECRET_ENV})
        assert not leaks(other_env, secrets)
    finally:
        # The next tests want an empty cloud: tear down even after a failure.
        outputs["teardown"] = run("playbooks/teardown.yml", "-e", "confirm=true")
    assert not leaks(outputs["teardown"], secrets), f"teardown -vvv output shows {leaks(outputs['teardown'], secrets)}"
