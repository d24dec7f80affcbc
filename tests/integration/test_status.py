"""playbooks/status.yml reports what it sees, changes nothing and never fails because the app is down.

Runs against the local cloud (make local-up) with ``-i inventory/local``: first on an empty cloud (the
"not deployed" message), then after a real site.yml deployment (URL, healthy, uvicorn log lines, the RDS
instance), in normal and in check mode. Everything the deployment created is removed afterwards, with
playbooks/teardown.yml when it exists and with boto3 for whatever is left, so that the next tests find an
empty cloud.

This module has no autouse "empty cloud" fixture: the deployment lives across its tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError
from conftest import ENDPOINT, LOCAL_CREDENTIALS, ROOT, local_client

PLAYBOOK = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventory/local"]
RESOURCES = [sys.executable, str(ROOT / "tests/helpers/aws_resources.py")]
TEARDOWN = ROOT / "playbooks/teardown.yml"

APP = "outsource"
CREDENTIALS = LOCAL_CREDENTIALS
RECAP = re.compile(r"^localhost\s*:.*\bchanged=(\d+)\b.*\bfailed=(\d+)\b", re.MULTILINE)


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **CREDENTIALS)
    return subprocess.run(
        [*PLAYBOOK, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def run_status(*extra: str) -> tuple[str, dict[str, str]]:
    """Run the status playbook; assert rc 0, changed=0, failed=0; return the output and the report's fields."""
    result = run("playbooks/status.yml", *extra, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output, output
    recap = RECAP.search(result.stdout)
    assert recap, output
    assert recap.groups() == ("0", "0"), f"status must change nothing and not fail: {recap.group(0)}"
    return output, report_fields(result.stdout)


def report_fields(stdout: str) -> dict[str, str]:
    """The 'name : value' lines of the status report (the last debug msg), and its log lines under 'log lines'."""
    start = stdout.rindex('"msg": [')
    lines = json.loads(stdout[start + len('"msg": ') : stdout.index("\n    ]", start) + len("\n    ]")])
    fields: dict[str, str] = {"log lines": "\n".join(line[2:] for line in lines if line.startswith("  "))}
    for line in lines:
        if not line.startswith("  ") and " : " in line:
            name, value = line.split(" : ", 1)
            fields[name.strip()] = value
    return fields


def resources() -> dict:
    env = dict(os.environ, AWS_ENDPOINT_URL=ENDPOINT, **CREDENTIALS)
    out = subprocess.run(RESOURCES, capture_output=True, text=True, check=True, timeout=60, env=env).stdout
    return json.loads(out)


def ignore_missing(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if not re.search(r"NotFound|NotExist|InvalidGroup|InvalidParameter", code):
            raise


def delete_with_boto3(app: str) -> None:
    """Delete what site.yml creates for APP, newest first, ignoring what is already gone."""
    ecs = local_client("ecs")
    cluster = f"{app}-cluster"
    clusters = ecs.describe_clusters(clusters=[cluster])["clusters"]
    if any(c.get("status") == "ACTIVE" for c in clusters):
        for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
            ignore_missing(ecs.update_service, cluster=cluster, service=arn, desiredCount=0)
            ignore_missing(ecs.delete_service, cluster=cluster, service=arn, force=True)
        for arn in ecs.list_tasks(cluster=cluster)["taskArns"]:
            ignore_missing(ecs.stop_task, cluster=cluster, task=arn, reason="status integration cleanup")
        ignore_missing(ecs.delete_cluster, cluster=cluster)
    for arn in ecs.list_task_definitions(familyPrefix=f"{app}-", status="ACTIVE")["taskDefinitionArns"]:
        ignore_missing(ecs.deregister_task_definition, taskDefinition=arn)

    ignore_missing(local_client("logs").delete_log_group, logGroupName=f"/ecs/{app}-api")
    ignore_missing(local_client("ecr").delete_repository, repositoryName=f"{app}-api", force=True)

    rds = local_client("rds")
    ignore_missing(
        rds.delete_db_instance, DBInstanceIdentifier=f"{app}-db", SkipFinalSnapshot=True, DeleteAutomatedBackups=True
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        names = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
        if f"{app}-db" not in names:
            break
        time.sleep(3)
    ignore_missing(rds.delete_db_subnet_group, DBSubnetGroupName=f"{app}-db-subnets")

    ec2 = local_client("ec2")
    # The RDS group's rule names the ECS group, so the RDS group goes first.
    for name in (f"{app}-rds-sg", f"{app}-ecs-sg"):
        groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        for group in groups:
            ignore_missing(ec2.delete_security_group, GroupId=group["GroupId"])


@pytest.fixture(scope="module")
def deployment():
    """site.yml's deployment of the sample backend; removed afterwards, leaving an empty cloud."""
    result = run("site.yml")
    try:
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr
        yield json.loads((ROOT / ".outsource/deploy.json").read_text())
    finally:
        if TEARDOWN.exists():
            run("playbooks/teardown.yml", "-e", "confirm=true")
        delete_with_boto3(APP)
        left = resources()
        assert left["total"] == 0, f"the status tests left resources behind: {left}"


@pytest.mark.parametrize("mode", ["run", "check"])
def test_status_on_an_empty_cloud_says_not_deployed(mode):
    before = resources()
    assert before["total"] == 0, f"the local cloud is not empty before the test: {before}"
    output, fields = run_status(*(["--check"] if mode == "check" else []))
    assert fields["service"].startswith("not deployed: run ansible-playbook site.yml"), output
    assert "not found" in fields["RDS"], output
    assert resources() == before, "status created something"


@pytest.mark.parametrize("mode", ["run", "check"])
def test_status_after_a_deployment_shows_url_health_database_and_logs(deployment, mode):
    before = resources()
    output, fields = run_status(*(["--check"] if mode == "check" else []))
    url = deployment["url"]
    assert url, deployment
    assert fields["API URL"] == url, output
    assert re.fullmatch(r"outsource-api-service \(outsource-cluster\): 1 of 1 task\(s\) running.*", fields["service"])
    assert re.fullmatch(r"[0-9a-f-]+ RUNNING, started \S+.*", fields["task"]), output
    assert fields["health"].startswith("healthy (GET " + url + "/health answered HTTP 200"), output
    assert re.fullmatch(r"outsource-db available, \S+:\d+", fields["RDS"]), output
    assert fields["follow the logs"].startswith("aws logs tail /ecs/outsource-api --follow"), output
    assert "uvicorn" in fields["log lines"].lower(), output
    assert resources() == before, "status changed the deployment"
