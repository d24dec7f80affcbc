#!/usr/bin/env python3
"""List what a deployment of APP created, as JSON, straight from the AWS APIs.

    aws_resources.py [--app outsource] [--endpoint-url URL] [--region REGION]

Used by the Molecule scenarios and the integration tests to assert outcomes
(``--check`` created nothing, teardown left nothing) independently of the
roles. Prints {"security_groups": [...], "db_instances": [...], ...} and
``"total"``: the number of resources found.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError


def collect(app: str, endpoint_url: str | None, region: str) -> dict:
    def client(name):
        return boto3.client(name, endpoint_url=endpoint_url or None, region_name=region)

    found: dict[str, list] = {}
    ec2 = client("ec2")
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{app}-rds-sg", f"{app}-ecs-sg"]}]
    )["SecurityGroups"]
    found["security_groups"] = sorted(g["GroupName"] for g in groups)

    rds = client("rds")
    instances = rds.describe_db_instances()["DBInstances"]
    found["db_instances"] = sorted(
        i["DBInstanceIdentifier"] for i in instances if i["DBInstanceIdentifier"].startswith(f"{app}-")
    )
    subnet_groups = rds.describe_db_subnet_groups()["DBSubnetGroups"]
    found["db_subnet_groups"] = sorted(
        g["DBSubnetGroupName"] for g in subnet_groups if g["DBSubnetGroupName"].startswith(f"{app}-")
    )

    ecr = client("ecr")
    try:
        repos = ecr.describe_repositories()["repositories"]
    except ClientError:
        repos = []
    found["ecr_repositories"] = sorted(r["repositoryName"] for r in repos if r["repositoryName"].startswith(f"{app}-"))

    logs = client("logs")
    log_groups = logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{app}-")["logGroups"]
    found["log_groups"] = sorted(g["logGroupName"] for g in log_groups)

    ecs = client("ecs")
    clusters = ecs.describe_clusters(clusters=[f"{app}-cluster"])["clusters"]
    found["ecs_clusters"] = sorted(c["clusterName"] for c in clusters if c.get("status") == "ACTIVE")
    services = []
    for cluster in found["ecs_clusters"]:
        for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
            services.append(arn.rsplit("/", 1)[-1])
    found["ecs_services"] = sorted(services)
    found["task_definitions"] = sorted(
        ecs.list_task_definitions(familyPrefix=f"{app}-", status="ACTIVE")["taskDefinitionArns"]
    )
    found["total"] = sum(len(v) for v in found.values())
    return found


def cli(collect_found, description: str) -> int:
    """Parse --app, --endpoint-url and --region, then print ``collect_found(app, endpoint, region)`` as JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--app", default="outsource")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    json.dump(collect_found(args.app, args.endpoint_url, args.region), sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(cli(collect, __doc__.splitlines()[0]))
