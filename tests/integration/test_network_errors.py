"""Accounts without a usable default VPC fail in the network role, before anything is created.

The local cloud cannot lose its default VPC, so these cases run the real site.yml
against a moto server whose EC2 state each test shapes first.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = str(ROOT / ".venv/bin/ansible-playbook")
PORT = 4599


@pytest.fixture
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=PORT)
    server.start()
    endpoint = f"http://127.0.0.1:{PORT}"
    # moto keeps its state in the process: every test starts from a fresh account.
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    try:
        yield endpoint
    finally:
        server.stop()


def ec2(endpoint: str):
    return boto3.client(
        "ec2", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )


def run_network(endpoint: str) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b")
    result = subprocess.run(
        [
            PLAYBOOK,
            "-i",
            "inventory/local",
            "site.yml",
            "--tags",
            "preflight,network",
            "-e",
            json.dumps({"outsource_aws_endpoint_url": endpoint}),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def our_security_groups(endpoint: str) -> list[str]:
    groups = ec2(endpoint).describe_security_groups()["SecurityGroups"]
    return [g["GroupName"] for g in groups if g["GroupName"].startswith("outsource-")]


def default_vpc(client) -> str:
    return client.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]


def the_failure(output: str) -> str:
    failed = [line for line in output.splitlines() if line.startswith("fatal:")]
    assert len(failed) == 1, output[-3000:]
    assert "Traceback" not in output
    return failed[0]


def test_the_default_vpc_passes_on_moto(moto_endpoint):
    # The control case: the same run succeeds on an untouched account.
    rc, output = run_network(moto_endpoint)
    assert rc == 0, output[-3000:]
    assert sorted(our_security_groups(moto_endpoint)) == ["outsource-ecs-sg", "outsource-rds-sg"]


def test_no_default_vpc(moto_endpoint):
    client = ec2(moto_endpoint)
    vpc = default_vpc(client)
    for subnet in client.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]:
        client.delete_subnet(SubnetId=subnet["SubnetId"])
    client.delete_vpc(VpcId=vpc)

    rc, output = run_network(moto_endpoint)

    assert rc != 0
    message = the_failure(output)
    assert "no default VPC" in message and "create-default-vpc" in message, message
    assert our_security_groups(moto_endpoint) == []


def test_fewer_than_two_availability_zones(moto_endpoint):
    client = ec2(moto_endpoint)
    vpc = default_vpc(client)
    subnets = client.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    keep = subnets[0]["AvailabilityZone"]
    for subnet in subnets:
        if subnet["AvailabilityZone"] != keep:
            client.delete_subnet(SubnetId=subnet["SubnetId"])

    rc, output = run_network(moto_endpoint)

    assert rc != 0
    message = the_failure(output)
    assert "two" in message or "2" in message, message
    assert keep in message, message
    assert our_security_groups(moto_endpoint) == []
