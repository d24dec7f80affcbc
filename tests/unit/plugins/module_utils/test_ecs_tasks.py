# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from ansible_collections.outsource.deploy.plugins.module_utils import ecs_tasks
from moto import mock_aws

DEPLOYMENT = {"id": "ecs-svc/123", "taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/api:3"}


@pytest.mark.parametrize(
    "task, belongs",
    [
        ({"taskDefinitionArn": DEPLOYMENT["taskDefinition"], "startedBy": "ecs-svc/123"}, True),
        ({"taskDefinitionArn": DEPLOYMENT["taskDefinition"], "startedBy": "ecs-svc/999"}, False),
        ({"taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/api:2", "startedBy": "ecs-svc/123"}, False),
        ({"taskDefinitionArn": DEPLOYMENT["taskDefinition"], "group": "service:api"}, True),
        ({"taskDefinitionArn": DEPLOYMENT["taskDefinition"], "group": "service:other"}, False),
        ({"taskDefinitionArn": DEPLOYMENT["taskDefinition"], "group": "family:api"}, False),
        # MiniStack sets startedBy to the service name: the group decides.
        ({"taskDefinitionArn": DEPLOYMENT["taskDefinition"], "startedBy": "api", "group": "service:api"}, True),
        ({"taskDefinitionArn": DEPLOYMENT["taskDefinition"], "startedBy": "api", "group": "service:x"}, False),
    ],
)
def test_task_belongs_to_deployment(task, belongs):
    assert ecs_tasks.task_belongs_to_deployment(task, "api", DEPLOYMENT) is belongs


def test_primary_deployment_is_the_newest():
    service = {"deployments": [{"id": "old", "status": "ACTIVE"}, {"id": "new", "status": "PRIMARY"}]}
    assert ecs_tasks.primary_deployment(service)["id"] == "new"
    assert ecs_tasks.primary_deployment({"deployments": []}) is None


@pytest.mark.parametrize(
    "task, expected",
    [
        (
            {"stoppedReason": "CannotPullContainerError: pull access denied", "containers": []},
            "image URI",
        ),
        (
            {"stoppedReason": "ResourceInitializationError: unable to pull secrets", "containers": []},
            "LabRole",
        ),
        (
            {"stoppedReason": "x", "containers": [{"reason": "AccessDeniedException: not authorized"}]},
            "LabRole",
        ),
        (
            {"stopCode": "EssentialContainerExited", "containers": [{"exitCode": 1}]},
            "Your app exited",
        ),
        ({"stoppedReason": "Task stopped", "containers": [{"exitCode": 2}]}, "Your app exited"),
        ({"stoppedReason": "OutOfMemoryError: Container killed", "containers": []}, "memory"),
        ({"stoppedReason": "Scaling activity", "containers": [{"exitCode": 0}]}, "ECS console"),
    ],
)
def test_stop_hints(task, expected):
    hints = ecs_tasks.stop_hints(task)
    assert len(hints) >= 1
    assert expected in hints[0]


def test_exit_code_137_adds_a_memory_hint():
    hints = ecs_tasks.stop_hints({"stopCode": "EssentialContainerExited", "containers": [{"exitCode": 137}]})
    assert any("137" in h for h in hints)


def test_awslogs_stream_names():
    definition = {
        "containerDefinitions": [
            {
                "name": "api",
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/api", "awslogs-stream-prefix": "ecs", "awslogs-region": "eu-1"},
                },
            },
            {"name": "sidecar", "logConfiguration": {"logDriver": "json-file"}},
            {"name": "noprefix", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/g"}}},
        ]
    }
    assert ecs_tasks.awslogs_streams(definition, "abc") == [("api", "/ecs/api", "ecs/api/abc", "eu-1")]


def test_task_network_and_summary():
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:1:task/c/abc123",
        "lastStatus": "RUNNING",
        "attachments": [
            {
                "type": "ElasticNetworkInterface",
                "details": [
                    {"name": "networkInterfaceId", "value": "eni-1"},
                    {"name": "privateIPv4Address", "value": "10.0.0.5"},
                ],
            }
        ],
        "containers": [{"name": "api", "lastStatus": "RUNNING"}],
    }
    summary = ecs_tasks.summarize_task(task, {"eni-1": "3.3.3.3"})
    assert summary["task_id"] == "abc123"
    assert summary["private_ip"] == "10.0.0.5"
    assert summary["eni_id"] == "eni-1"
    assert summary["public_ip"] == "3.3.3.3"
    assert summary["started_at"] is None
    assert summary["containers"] == [{"name": "api", "last_status": "RUNNING", "exit_code": None, "reason": None}]


def test_nip_io_host_and_counts():
    assert ecs_tasks.nip_io_host("3.95.123.45") == "3-95-123-45.nip.io"
    assert ecs_tasks.nip_io_host(None) is None
    tasks = [{"last_status": "RUNNING"}, {"last_status": "PENDING"}, {"last_status": "PENDING"}]
    assert ecs_tasks.count_by_status(tasks) == "2 PENDING, 1 RUNNING"
    assert ecs_tasks.count_by_status([]) == "no tasks"


class PagedEcs:
    def __init__(self, arns, page):
        self.arns = arns
        self.page = page
        self.calls = []

    def list_tasks(self, aws_retry=False, cluster=None, maxResults=None, nextToken=None, **filters):
        assert aws_retry is True
        self.calls.append(nextToken)
        start = int(nextToken or 0)
        size = min(maxResults, self.page)
        response = {"taskArns": self.arns[start : start + size]}
        if start + size < len(self.arns):
            response["nextToken"] = str(start + size)
        return response


def test_list_task_arns_follows_next_token():
    client = PagedEcs([f"arn:{i}" for i in range(7)], page=3)

    assert ecs_tasks.list_task_arns(client, "c", desiredStatus="RUNNING") == [f"arn:{i}" for i in range(7)]
    assert client.calls == [None, "3", "6"]


def test_public_ips_by_eni_ignores_missing_interfaces():
    with mock_aws():
        ec2 = RetryingBotoClientWrapper(boto3.client("ec2", region_name="us-east-1"), AWSRetry.jittered_backoff())
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
        plain = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
        address = ec2.allocate_address(Domain="vpc")
        ec2.associate_address(AllocationId=address["AllocationId"], NetworkInterfaceId=eni)

        found = ecs_tasks.public_ips_by_eni(ec2, [eni, plain, "eni-0000000000doesnotexist"])

    assert found == {eni: address["PublicIp"], plain: None}


def test_describe_service_errors_name_the_fix():
    with mock_aws():
        ecs = RetryingBotoClientWrapper(boto3.client("ecs", region_name="us-east-1"), AWSRetry.jittered_backoff())
        with pytest.raises(ecs_tasks.EcsLookupError, match="cluster 'nope' does not exist"):
            ecs_tasks.describe_service(ecs, "nope", "svc")
        ecs.create_cluster(clusterName="c")
        with pytest.raises(ecs_tasks.EcsLookupError, match="service 'svc' does not exist in cluster 'c'"):
            ecs_tasks.describe_service(ecs, "c", "svc")
