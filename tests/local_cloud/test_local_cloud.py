"""The local cloud itself: up, a Fargate service from the local ECR answers HTTP, RDS MySQL logs in, down.

Runs the real tool against the real MiniStack and Docker engine; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import boto3
import docker
import pymysql
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = [sys.executable, str(ROOT / "tools/local_cloud/local_cloud.py")]
ENDPOINT = "http://127.0.0.1:4566"
NAME = "lctest"


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*TOOL, *args], capture_output=True, text=True, timeout=900, check=False)


def engine_host() -> str:
    out = tool("env").stdout
    return next(line.split("=", 1)[1] for line in out.splitlines() if line.startswith("export DOCKER_HOST="))


def aws(service: str):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def wait_for(predicate, timeout: float, interval: float = 1.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def cloud():
    first = tool("up")
    assert first.returncode == 0, first.stdout + first.stderr
    second = tool("up")  # idempotent: a second up finds everything running
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already answering" in second.stdout
    status = tool("status")
    assert status.returncode == 0, status.stdout
    assert "python:3.12-slim" in status.stdout and "mysql:8.0" in status.stdout
    yield engine_host()
    if os.environ.get("LOCAL_CLOUD_KEEP") != "1":  # a developer may keep it up for the next run
        down = tool("down")
        assert down.returncode == 0, down.stdout + down.stderr


def build_web_image(client: docker.DockerClient, tag: str) -> None:
    dockerfile = (
        "ARG BASE_IMAGE=python:3.12-slim\nFROM ${BASE_IMAGE}\n"
        "RUN mkdir /srv/www && echo local-cloud-ok > /srv/www/index.html\n"
        'CMD ["python3", "-m", "http.server", "8000", "--directory", "/srv/www"]\n'
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=tag, platform="linux/amd64", rm=True)


def test_fargate_service_from_local_ecr_answers_http(cloud):
    client = docker.DockerClient(base_url=cloud)
    ecr, ecs, ec2 = aws("ecr"), aws("ecs"), aws("ec2")
    repo = f"{NAME}-web"
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repo)
    image = f"127.0.0.1:4566/{repo}:v1"
    build_web_image(client, image)
    for line in client.images.push(image, stream=True, decode=True):
        assert "error" not in line, line
    tags = [t for d in ecr.describe_images(repositoryName=repo)["imageDetails"] for t in d.get("imageTags", [])]
    assert "v1" in tags

    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    ecs.create_cluster(clusterName=f"{NAME}-cluster")
    ecs.register_task_definition(
        family=f"{NAME}-web",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": "web", "image": image, "essential": True, "portMappings": [{"containerPort": 8000}]}
        ],
    )
    ecs.create_service(
        cluster=f"{NAME}-cluster",
        serviceName=f"{NAME}-svc",
        taskDefinition=f"{NAME}-web",
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets[:2], "assignPublicIp": "ENABLED"}},
    )
    try:

        def running_ip():
            arns = ecs.list_tasks(cluster=f"{NAME}-cluster", serviceName=f"{NAME}-svc")["taskArns"]
            if not arns:
                return None
            for task in ecs.describe_tasks(cluster=f"{NAME}-cluster", tasks=arns)["tasks"]:
                if task["lastStatus"] == "RUNNING":
                    for att in task.get("attachments", []):
                        for detail in att.get("details", []):
                            if detail["name"] == "privateIPv4Address":
                                return detail["value"]
            return None

        ip = wait_for(running_ip, 60, what="the ECS task to run")

        def answers():
            try:
                with urllib.request.urlopen(f"http://{ip}:8000/", timeout=3) as resp:
                    return resp.read().decode().strip()
            except OSError:
                return None

        assert wait_for(answers, 30, what=f"HTTP at {ip}:8000") == "local-cloud-ok"
    finally:
        ecs.update_service(cluster=f"{NAME}-cluster", service=f"{NAME}-svc", desiredCount=0)
        ecs.delete_service(cluster=f"{NAME}-cluster", service=f"{NAME}-svc", force=True)
        ecs.delete_cluster(cluster=f"{NAME}-cluster")
        ecr.delete_repository(repositoryName=repo, force=True)


def test_rds_mysql_accepts_master_login(cloud):
    rds = aws("rds")
    password = "Lc#Test!pw%:?&+"
    rds.create_db_instance(
        DBInstanceIdentifier=f"{NAME}-db",
        Engine="mysql",
        EngineVersion="8.0",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="lc_admin",
        MasterUserPassword=password,
        DBName="lc_db",
        PubliclyAccessible=True,
    )
    try:

        def available():
            inst = rds.describe_db_instances(DBInstanceIdentifier=f"{NAME}-db")["DBInstances"][0]
            return inst if inst["DBInstanceStatus"] == "available" else None

        inst = wait_for(available, 120, interval=2, what="the RDS instance to become available")
        endpoint = inst["Endpoint"]
        conn = pymysql.connect(
            host=endpoint["Address"],
            port=endpoint["Port"],
            user="lc_admin",
            password=password,
            database="lc_db",
            connect_timeout=10,
        )
        with conn, conn.cursor() as cur:
            cur.execute("SELECT 1 + 1, DATABASE()")
            assert cur.fetchone() == (2, "lc_db")
    finally:
        rds.delete_db_instance(DBInstanceIdentifier=f"{NAME}-db", SkipFinalSnapshot=True)


def our_processes(local_cloud) -> list[str]:
    """Command lines of running processes that belong to this local cloud (other MiniStacks may run)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if "-m ministack" in args and f"GATEWAY_PORT={local_cloud.PORT}".encode() in environ:
            found.append(args)
        if str(local_cloud.DOCKER_SOCK) in args:
            found.append(args)
    return found


def test_down_leaves_nothing_running(cloud):
    # Runs last in this module: take the cloud down here and check what is left.
    sys.path.insert(0, str(ROOT / "tools/local_cloud"))
    import local_cloud

    private_engine = cloud == local_cloud.private_engine_host()
    assert tool("down").returncode == 0

    assert local_cloud.pid_alive(local_cloud.MINISTACK_PID) is None
    assert local_cloud.pid_alive(local_cloud.DOCKER_PID) is None
    assert not local_cloud.ministack_answers()
    assert not our_processes(local_cloud), "a process of the local cloud is still running"
    mounts = Path("/proc/mounts").read_text()
    assert str(local_cloud.DOCKER_DATA) not in mounts
    assert str(local_cloud.DOCKER_EXEC) not in mounts
    if private_engine:  # a user's own engine keeps its docker0; ours must not leave one
        assert not Path("/sys/class/net/docker0").exists()
