"""An SQL error in the backend's files stops the schema role with one message, and a rerun after the fix succeeds.

The error cannot be known before the database exists, so the deployment is under way when it shows. The test
runs the real site.yml against the local cloud (make local-up) with a copy of the sample backend whose SQL has
an error, reads the message and, over a real MySQL connection, what the failed import left behind, fixes the
file, runs again, and tears everything down (the cloud must be empty before and after):

1. create-schema.sql with a typo in its third CREATE TABLE: the message names the file, the line, MySQL's
   error and the fix; the two tables created before the typo are dropped again.
2. create-schema.sql fixed, insert-info.sql with an error in its third INSERT (network, rds and schema only):
   the message says that create-schema.sql, imported, is skipped; the inserts before the error are rolled back.
3. insert-info.sql fixed: the whole deployment succeeds, importing insert-info.sql only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest
import requests
from conftest import LOCAL_CREDENTIALS, ROOT, local_client

PLAYBOOK = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventory/local"]
RESOURCES = [sys.executable, str(ROOT / "tests/helpers/aws_resources.py")]
VAULT_VIEW = [
    str(ROOT / ".venv/bin/ansible-vault"),
    "view",
    "--vault-id",
    f"local@{ROOT / 'inventory/local/vault-password.txt'}",
    "inventory/local/group_vars/local_cloud/vault.yml",
]
SAMPLE = ROOT / "examples/outsource-backend"

APP = "outsource"
CREDENTIALS = LOCAL_CREDENTIALS
RECAP = re.compile(r"^localhost\s*:.*\bchanged=(\d+)\b.*\bfailed=(\d+)\b", re.MULTILINE)
LEDGER = "_outsource_schema_ledger"


def run(*args: str) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **CREDENTIALS)
    result = subprocess.run(
        [*PLAYBOOK, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def resources() -> dict:
    env = dict(os.environ, **CREDENTIALS)
    out = subprocess.run(RESOURCES, capture_output=True, text=True, check=True, timeout=60, env=env).stdout
    return json.loads(out)


def the_failure(rc: int, output: str) -> str:
    """The one fatal line of a failed run (no traceback, nothing else failed)."""
    assert rc != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    failed = [line for line in output.splitlines() if line.startswith(("fatal:", "failed:"))]
    assert len(failed) == 1, f"expected one failure, got: {failed}"
    return failed[0]


def db_password() -> str:
    out = subprocess.run(VAULT_VIEW, cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout
    value = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("vault_db_password:"))
    return json.loads(value) if value.startswith('"') else value


def database(password: str) -> pymysql.connections.Connection:
    """A MySQL connection to the deployment's RDS instance, found through the RDS API."""
    rds = local_client("rds")
    endpoint = rds.describe_db_instances(DBInstanceIdentifier=f"{APP}-db")["DBInstances"][0]["Endpoint"]
    return pymysql.connect(
        host=endpoint["Address"],
        port=endpoint["Port"],
        user="outsource_admin",
        password=password,
        database="outsource_db",
        connect_timeout=10,
        autocommit=True,
    )


def query(password: str, sql: str) -> list[tuple]:
    connection = database(password)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()


def tables(password: str) -> list[str]:
    return sorted(row[0] for row in query(password, "SHOW TABLES"))


def break_statement(path: Path, good: str, bad: str) -> int:
    """Replace the line `good` of the file with `bad`; return its line number."""
    lines = path.read_text().splitlines()
    number = lines.index(good) + 1
    lines[number - 1] = bad
    path.write_text("\n".join(lines) + "\n")
    return number


@pytest.fixture
def backend(tmp_path: Path):
    """A copy of the sample backend; the deployment made from it is torn down afterwards."""
    before = resources()
    assert before["total"] == 0, f"the local cloud is not empty before the test: {before}"
    copy = tmp_path / "backend"
    shutil.copytree(SAMPLE, copy)
    try:
        yield copy
    finally:
        rc, output = run("playbooks/teardown.yml", "-e", "confirm=true")
        assert rc == 0, output[-3000:]
        after = resources()
        assert after["total"] == 0, f"the teardown left resources behind: {after}"


def test_sql_error_names_file_line_error_and_fix_and_the_fixed_file_imports(backend, tmp_path):
    settings = [
        "-e",
        json.dumps({"outsource_backend_dir": str(backend), "outsource_summary_file": str(tmp_path / "s")}),
    ]
    password = db_password()
    schema, seed = backend / "create-schema.sql", backend / "insert-info.sql"

    # 1. A typo in the third CREATE TABLE, after two that work.
    line = break_statement(schema, "CREATE TABLE categories (", "CREATE TABEL categories (")
    rc, output = run("site.yml", *settings)
    failure = the_failure(rc, output)
    for words in (
        f"create-schema.sql failed at line {line} (in the statement that starts at line {line})",
        "You have an error in your SQL syntax",
        "TABEL categories",
        "the tables it created (providers, users) were dropped",
        f"Fix: correct that statement in {schema} and run site.yml again",
    ):
        assert words in failure, f"{words!r} not in: {failure}"
    assert password not in output
    assert tables(password) == [LEDGER], "the failed import left tables behind"

    # 2. The schema fixed; an error in the third INSERT of the seed data, after two that work.
    shutil.copy(SAMPLE / "create-schema.sql", schema)
    line = break_statement(
        seed, "INSERT INTO categories (id, name, slug) VALUES", "INSERT INTO categories (id, name, slug) VALUSE"
    )
    rc, output = run("site.yml", "--tags", "network,rds,schema", *settings)
    failure = the_failure(rc, output)
    for words in (
        f"insert-info.sql failed at line {line}",
        "You have an error in your SQL syntax",
        "its data changes were rolled back",
        f"Fix: correct that statement in {seed} and run site.yml again: it skips create-schema.sql (imported)",
    ):
        assert words in failure, f"{words!r} not in: {failure}"
    assert "bookings" in tables(password)
    assert query(password, "SELECT COUNT(*) FROM users") == [(0,)], "the inserts before the error were kept"
    assert query(password, "SELECT file_name FROM _outsource_schema_ledger ORDER BY file_name") == [
        ("create-schema.sql",)
    ]

    # 3. Fixed: the rerun imports insert-info.sql only, and the deployment finishes.
    shutil.copy(SAMPLE / "insert-info.sql", seed)
    rc, output = run("site.yml", *settings)
    assert rc == 0, output[-5000:]
    assert RECAP.search(output).group(2) == "0", output[-3000:]
    assert "Import the SQL file insert-info.sql" in output
    assert "Import the SQL file create-schema.sql" not in output
    assert query(password, "SELECT COUNT(*) FROM users") == [(6,)]
    assert query(password, "SELECT file_name FROM _outsource_schema_ledger ORDER BY file_name") == [
        ("create-schema.sql",),
        ("insert-info.sql",),
    ]
    url = json.loads((tmp_path / "s").read_text())["url"]
    assert len(requests.get(f"{url}/api/services", timeout=10).json()) >= 3, "the seeded services are not served"
