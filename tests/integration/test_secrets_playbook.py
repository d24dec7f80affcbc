"""playbooks/secrets.yml writes an encrypted vault that holds what was given, and never prints a secret."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv/bin"


def run_secrets(target: Path, **values: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", **values)
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-v", "playbooks/secrets.yml", "-e", f"secrets_file={target}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_writes_an_encrypted_vault_without_printing_secrets(tmp_path):
    target = tmp_path / "vault.yml"
    values = {
        "OUTSOURCE_DB_PASSWORD": "Hack#athon!Pass%1",
        "OUTSOURCE_GEMINI_API_KEY": "gemini-key-for-the-test-only",
        "OUTSOURCE_VAULT_PASSWORD": "vault-password-for-the-test",
    }
    result = run_secrets(target, **values)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert target.read_text().startswith("$ANSIBLE_VAULT;")
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    for value in values.values():
        assert value not in output
        assert value not in target.read_text()

    password_file = tmp_path / "pw"
    password_file.write_text(values["OUTSOURCE_VAULT_PASSWORD"])
    plain = subprocess.run(
        [str(BIN / "ansible-vault"), "view", "--vault-password-file", str(password_file), str(target)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    secrets = yaml.safe_load(plain)
    assert secrets["vault_db_password"] == values["OUTSOURCE_DB_PASSWORD"]
    assert secrets["vault_gemini_api_key"] == values["OUTSOURCE_GEMINI_API_KEY"]
    assert re.fullmatch(r"[0-9a-f]{64}", secrets["vault_jwt_secret"])
    assert secrets["vault_jwt_secret"] not in output


def test_a_password_rds_refuses_writes_nothing(tmp_path):
    target = tmp_path / "vault.yml"
    result = run_secrets(
        target,
        OUTSOURCE_DB_PASSWORD="has@sign-in-it",
        OUTSOURCE_GEMINI_API_KEY="gemini-key",
        OUTSOURCE_VAULT_PASSWORD="vault-password-for-the-test",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "8 to 41 printable ASCII" in output
    assert "has@sign-in-it" not in output
    assert not target.exists()
