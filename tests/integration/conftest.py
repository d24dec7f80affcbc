"""What several integration tests share: where things are, the local cloud's settings, the local vault's secrets.

Test modules import these names (``from conftest import ...``); pytest puts this folder on sys.path.
"""

from __future__ import annotations

import functools
import json
import subprocess
import urllib.parse
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "http://127.0.0.1:4566"
# The local inventory's credentials (not secrets; see inventory/local/group_vars/local_cloud/main.yml).
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "LOCALCLOUDACCESSKEY",
    "AWS_SECRET_ACCESS_KEY": "local-cloud-dummy-secret-0000",
    "AWS_REGION": "us-east-1",
}
SECRET_NAMES = {"vault_db_password", "vault_jwt_secret", "vault_gemini_api_key"}


def local_client(service: str):
    """A boto3 client of SERVICE for the local cloud, with the local inventory's credentials."""
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=LOCAL_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@functools.cache
def local_vault_secrets() -> dict[str, str]:
    """The local inventory's throwaway vault values by name (read with ansible-vault view)."""
    out = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-vault"),
            "view",
            "--vault-id",
            f"local@{ROOT / 'inventory/local/vault-password.txt'}",
            "inventory/local/group_vars/local_cloud/vault.yml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    values = {}
    for line in out.splitlines():
        if line.startswith("vault_"):
            key, value = line.split(":", 1)
            value = value.strip()
            values[key] = json.loads(value) if value.startswith('"') else value
    assert set(values) >= SECRET_NAMES, sorted(values)
    return values


def secret_needles(secrets: dict[str, str]) -> dict[str, str]:
    """The secrets and, where it differs, their URL-encoded form (DATABASE_URL carries the password so)."""
    found = {}
    for key, value in secrets.items():
        found[key] = value
        encoded = urllib.parse.quote(value, safe="")
        if encoded != value:
            found[f"{key} (URL-encoded)"] = encoded
    return found


def leaks(text: str, needles: dict[str, str]) -> list[str]:
    """The names of the needles that occur in the text."""
    return [name for name, value in needles.items() if value and value in text]
