#!/usr/bin/env python3
"""Count, straight from the AWS APIs, every copy of what a deployment of APP created, as JSON.

    deployment_details.py [--app outsource] [--endpoint-url URL] [--region REGION]

aws_resources.py answers "is anything left?"; this answers "is anything there twice?", for the tests
that rerun an interrupted deployment. Nothing is filtered by name alone where AWS allows two of a
kind: every security group of the default VPC but "default", every RDS instance and DB subnet group
of the app in any status, every ECR repository and its images with their tags, every ECS cluster
(ACTIVE) with its services (desired and running counts) and its tasks, every task definition
revision of the app's families, ACTIVE or INACTIVE, and the app's log groups.
"""

from __future__ import annotations

import sys

import boto3
from aws_resources import cli  # the sibling script: same options, same JSON output
from botocore.exceptions import ClientError


def _pages(client, operation: str, key: str, **kwargs) -> list:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def collect(app: str, endpoint_url: str | None, region: str) -> dict:
    def client(name):
        return boto3.client(name, endpoint_url=endpoint_url or None, region_name=region)

    found: dict = {}
    ec2 = client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    groups = (
        ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [v["VpcId"] for v in vpcs]}])[
            "SecurityGroups"
        ]
        if vpcs
        else []
    )
    found["security_groups"] = sorted(
        ({"name": g["GroupName"], "id": g["GroupId"]} for g in groups if g["GroupName"] != "default"),
        key=lambda g: (g["name"], g["id"]),
    )

    rds = client("rds")
    found["db_instances"] = sorted(
        (
            {"id": i["DBInstanceIdentifier"], "status": i.get("DBInstanceStatus", "")}
            for i in rds.describe_db_instances()["DBInstances"]
            if i["DBInstanceIdentifier"].startswith(f"{app}-")
        ),
        key=lambda i: i["id"],
    )
    found["db_subnet_groups"] = sorted(
        g["DBSubnetGroupName"]
        for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
        if g["DBSubnetGroupName"].startswith(f"{app}-")
    )

    ecr = client("ecr")
    try:
        repos = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    except ClientError:
        repos = []
    found["ecr_repositories"] = {}
    for name in sorted(r for r in repos if r.startswith(f"{app}-")):
        images = ecr.describe_images(repositoryName=name).get("imageDetails", [])
        found["ecr_repositories"][name] = sorted(
            ({"digest": i["imageDigest"], "tags": sorted(i.get("imageTags", []))} for i in images),
            key=lambda i: i["digest"],
        )

    logs = client("logs")
    found["log_groups"] = sorted(
        g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{app}-")["logGroups"]
    )

    ecs = client("ecs")
    cluster_arns = ecs.list_clusters()["clusterArns"]
    clusters = ecs.describe_clusters(clusters=cluster_arns)["clusters"] if cluster_arns else []
    found["ecs_clusters"] = {}
    for cluster in sorted((c for c in clusters if c.get("status") == "ACTIVE"), key=lambda c: c["clusterName"]):
        name = cluster["clusterName"]
        service_arns = ecs.list_services(cluster=name)["serviceArns"]
        services = ecs.describe_services(cluster=name, services=service_arns)["services"] if service_arns else []
        task_arns = ecs.list_tasks(cluster=name)["taskArns"]
        tasks = ecs.describe_tasks(cluster=name, tasks=task_arns)["tasks"] if task_arns else []
        found["ecs_clusters"][name] = {
            "services": sorted(
                (
                    {
                        "name": s["serviceName"],
                        "status": s.get("status", ""),
                        "desired": s.get("desiredCount"),
                        "running": s.get("runningCount"),
                        "task_definition": s.get("taskDefinition", "").rsplit("/", 1)[-1],
                    }
                    for s in services
                ),
                key=lambda s: s["name"],
            ),
            "tasks": sorted(
                (
                    {
                        "id": t["taskArn"].rsplit("/", 1)[-1],
                        "last_status": t.get("lastStatus", ""),
                        "desired_status": t.get("desiredStatus", ""),
                        "task_definition": t.get("taskDefinitionArn", "").rsplit("/", 1)[-1],
                    }
                    for t in tasks
                ),
                key=lambda t: t["id"],
            ),
        }

    found["task_definitions"] = {
        status.lower(): sorted(
            arn.rsplit("/", 1)[-1]
            for arn in _pages(ecs, "list_task_definitions", "taskDefinitionArns", familyPrefix=f"{app}-", status=status)
        )
        for status in ("ACTIVE", "INACTIVE")
    }
    return found


if __name__ == "__main__":
    sys.exit(cli(collect, __doc__.splitlines()[0]))
