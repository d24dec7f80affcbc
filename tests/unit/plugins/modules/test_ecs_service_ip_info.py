# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ecs_service_ip_info against moto.

moto's ECS services never start tasks, so the tests start them with run_task and give them the
service's deployment id as startedBy and ``service:<name>`` as group, as ECS does for service tasks.
"""

import contextlib
import time

import boto3
import pytest
from ansible_collections.outsource.deploy.plugins.module_utils import ecs_tasks
from ansible_collections.outsource.deploy.plugins.modules import ecs_service_ip_info
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.ecs.models import ecs_backends
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.moto_api import state_manager

REGION = "us-east-1"
CLUSTER = "outsource-cluster"
SERVICE = "outsource-api-service"
FAMILY = "outsource-api"
CONTAINER = "outsource-api"
LOG_GROUP = "/ecs/outsource-api"
STREAM_PREFIX = "ecs"


class FakeClock:
    """Stands in for the module's ``time``: sleeping only moves the clock."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class EcsWorld:
    """A cluster, a Fargate task definition that logs with awslogs, and a service, in moto."""

    def __init__(self, desired_count=1, assign_public_ip="ENABLED"):
        self.ecs = boto3.client("ecs", region_name=REGION)
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.logs = boto3.client("logs", region_name=REGION)
        self.ecs.create_cluster(clusterName=CLUSTER)
        self.task_definition_arn = self.register_task_definition()
        vpc_id = self.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        group_id = self.ec2.create_security_group(GroupName="outsource-ecs-sg", Description="ecs", VpcId=vpc_id)[
            "GroupId"
        ]
        self.network = {
            "awsvpcConfiguration": {
                "subnets": [s["SubnetId"] for s in subnets[:2]],
                "securityGroups": [group_id],
                "assignPublicIp": assign_public_ip,
            }
        }
        service = self.ecs.create_service(
            cluster=CLUSTER,
            serviceName=SERVICE,
            taskDefinition=self.task_definition_arn,
            desiredCount=desired_count,
            launchType="FARGATE",
            networkConfiguration=self.network,
        )["service"]
        self.deployment_id = next(d["id"] for d in service["deployments"] if d["status"] == "PRIMARY")

    def register_task_definition(self, image="123456789012.dkr.ecr.us-east-1.amazonaws.com/outsource-api:latest"):
        return self.ecs.register_task_definition(
            family=FAMILY,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": CONTAINER,
                    "image": image,
                    "memory": 512,
                    "essential": True,
                    "portMappings": [{"containerPort": 8000}],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": LOG_GROUP,
                            "awslogs-region": REGION,
                            "awslogs-stream-prefix": STREAM_PREFIX,
                        },
                    },
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]

    def run_tasks(self, count=1, started_by=None, group=None, task_definition=None):
        tasks = []
        while count > 0:
            batch = min(count, 10)
            tasks.extend(
                self.ecs.run_task(
                    cluster=CLUSTER,
                    taskDefinition=task_definition or self.task_definition_arn,
                    count=batch,
                    launchType="FARGATE",
                    startedBy=self.deployment_id if started_by is None else started_by,
                    group=group or f"service:{SERVICE}",
                    networkConfiguration=self.network,
                )["tasks"]
            )
            count -= batch
        return tasks

    @staticmethod
    def detail(task, name):
        for attachment in task["attachments"]:
            for detail in attachment["details"]:
                if detail["name"] == name:
                    return detail["value"]
        return None

    def attach_public_ip(self, task):
        eni_id = self.detail(task, "networkInterfaceId")
        allocation = self.ec2.allocate_address(Domain="vpc")
        self.ec2.associate_address(AllocationId=allocation["AllocationId"], NetworkInterfaceId=eni_id)
        return allocation["PublicIp"]

    @staticmethod
    def backend_task(task_arn):
        for tasks in ecs_backends[DEFAULT_ACCOUNT_ID][REGION].tasks.values():
            if task_arn in tasks:
                return tasks[task_arn]
        raise KeyError(task_arn)

    def stop(self, task, reason, stop_code=None, exit_code=None, container_reason=None):
        self.ecs.stop_task(cluster=CLUSTER, task=task["taskArn"], reason=reason)
        moto_task = self.backend_task(task["taskArn"])
        if stop_code:
            moto_task.stop_code = stop_code
        container = moto_task.containers[0]
        container.name = CONTAINER
        container.exitCode = exit_code
        if container_reason:
            container.reason = container_reason

    def put_logs(self, task, messages):
        stream = f"{STREAM_PREFIX}/{CONTAINER}/{task['taskArn'].rsplit('/', 1)[-1]}"
        with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_group(logGroupName=LOG_GROUP)
        self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        start = int(time.time() * 1000) - 60_000
        self.logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": start + i, "message": m} for i, m in enumerate(messages)],
        )
        return stream


@pytest.fixture
def aws():
    with mock_aws():
        # moto walks tasks towards STOPPED on every describe call unless told otherwise.
        state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 1000000})
        try:
            yield
        finally:
            state_manager.unset_transition("ecs::task")


@pytest.fixture
def world(aws):
    return EcsWorld()


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(ecs_service_ip_info, "time", fake)
    return fake


def args(**extra):
    base = {"cluster": CLUSTER, "service": SERVICE}
    base.update(extra)
    return base


def test_public_ip_from_the_task_eni(world, run_module, clock):
    task = world.run_tasks()[0]
    public_ip = world.attach_public_ip(task)
    private_ip = world.detail(task, "privateIPv4Address")

    result = run_module(ecs_service_ip_info, args(wait=True, port=8000))

    assert result["failed"] is False
    assert result["changed"] is False
    assert result["public_ip"] == public_ip
    assert result["private_ip"] == private_ip
    assert result["url"] == f"http://{public_ip}:8000"
    assert result["nip_io_host"] == public_ip.replace(".", "-") + ".nip.io"
    assert result["nip_io_url"] == f"http://{public_ip.replace('.', '-')}.nip.io:8000"
    assert result["deployment_id"] == world.deployment_id
    assert result["task_definition"] == world.task_definition_arn
    assert result["running_count"] == 1
    assert result["desired_count"] == 1
    assert len(result["tasks"]) == 1
    summary = result["tasks"][0]
    assert summary["task_arn"] == task["taskArn"]
    assert summary["task_id"] == task["taskArn"].rsplit("/", 1)[-1]
    assert summary["last_status"] == "RUNNING"
    assert summary["desired_status"] == "RUNNING"
    assert summary["task_definition_arn"] == world.task_definition_arn
    assert summary["eni_id"] == world.detail(task, "networkInterfaceId")
    assert summary["public_ip"] == public_ip
    assert summary["private_ip"] == private_ip
    # Ready at the first look: no waiting.
    assert clock.sleeps == []


def test_returns_the_service_in_snake_case_without_events(world, run_module, clock):
    world.run_tasks()

    result = run_module(ecs_service_ip_info, args())

    service = result["service"]
    assert service["service_name"] == SERVICE
    assert service["status"] == "ACTIVE"
    assert service["task_definition"] == world.task_definition_arn
    assert service["desired_count"] == 1
    assert "subnets" in service["network_configuration"]["awsvpc_configuration"]
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY"]
    assert "events" not in service


def test_task_definition_details_describe_the_service_task_definition(world, run_module, clock):
    world.run_tasks()

    plain = run_module(ecs_service_ip_info, args())
    detailed = run_module(ecs_service_ip_info, args(task_definition_details=True))

    assert plain["service_task_definition"] == {}
    details = detailed["service_task_definition"]
    assert details["task_definition_arn"] == world.task_definition_arn
    assert details["status"] == "ACTIVE"
    container = details["container_definitions"][0]
    assert container["name"] and container["image"]
    assert "port_mappings" in container


def test_only_tasks_of_the_primary_deployment_count(world, run_module, clock):
    mine = world.run_tasks()[0]
    ip = world.attach_public_ip(mine)
    # A task of another service and a task of an older task definition revision of this service.
    other_service = world.run_tasks(started_by="ecs-svc/999", group="service:other")[0]
    world.attach_public_ip(other_service)
    old_revision = world.register_task_definition(image="old:1")
    world.register_task_definition()  # revision 3, unused
    old = world.run_tasks(task_definition=old_revision, started_by="", group=f"service:{SERVICE}")[0]
    world.attach_public_ip(old)

    result = run_module(ecs_service_ip_info, args(wait=True))

    assert [t["task_arn"] for t in result["tasks"]] == [mine["taskArn"]]
    assert result["public_ip"] == ip


def test_port_is_used_in_the_urls(world, run_module, clock):
    task = world.run_tasks()[0]
    ip = world.attach_public_ip(task)

    result = run_module(ecs_service_ip_info, args(port=8080))

    assert result["url"] == f"http://{ip}:8080"
    assert result["nip_io_url"].endswith(".nip.io:8080")


def test_wait_false_reports_a_task_without_public_ip(world, run_module, clock):
    task = world.run_tasks()[0]

    result = run_module(ecs_service_ip_info, args(wait=False))

    assert result["failed"] is False
    assert result["public_ip"] is None
    assert result["url"] is None
    assert result["nip_io_host"] is None
    assert result["private_ip"] == world.detail(task, "privateIPv4Address")
    assert result["tasks"][0]["public_ip"] is None
    assert result["running_count"] == 1


@pytest.mark.parametrize("eni_listed", [True, False], ids=["with-eni", "no-eni-like-an-emulator"])
def test_private_ip_fallback_without_public_ip(world, run_module, clock, eni_listed):
    task = world.run_tasks()[0]
    private_ip = world.detail(task, "privateIPv4Address")
    if not eni_listed:
        # MiniStack gives tasks only a private IP: no networkInterfaceId in the attachment.
        moto_task = world.backend_task(task["taskArn"])
        for attachment in moto_task.attachments:
            attachment["details"] = [d for d in attachment["details"] if d["name"] != "networkInterfaceId"]

    result = run_module(ecs_service_ip_info, args(wait=True, require_public_ip=False))

    assert result["failed"] is False
    assert result["public_ip"] == private_ip
    assert result["private_ip"] == private_ip
    assert result["url"] == f"http://{private_ip}:8000"
    assert result["nip_io_host"] == private_ip.replace(".", "-") + ".nip.io"
    assert result["tasks"][0]["public_ip"] is None
    assert result["tasks"][0]["eni_id"] == (world.detail(task, "networkInterfaceId") if eni_listed else None)


def test_private_ip_fallback_when_describe_tasks_has_no_attachment_ip(world, run_module, clock, monkeypatch):
    task = world.run_tasks()[0]
    real_describe = ecs_tasks.describe_tasks

    def describe_without_attachment_ip(client, cluster, arns):
        tasks = real_describe(client, cluster, arns)
        for t in tasks:
            for attachment in t.get("attachments", []):
                attachment["details"] = [d for d in attachment["details"] if d["name"] != "privateIPv4Address"]
            t["containers"][0]["networkInterfaces"] = [{"privateIpv4Address": "172.17.0.5"}]
        return tasks

    monkeypatch.setattr(ecs_tasks, "describe_tasks", describe_without_attachment_ip)

    result = run_module(ecs_service_ip_info, args(wait=True, require_public_ip=False))

    assert result["tasks"][0]["task_arn"] == task["taskArn"]
    assert result["public_ip"] == "172.17.0.5"
    assert result["url"] == "http://172.17.0.5:8000"


def test_stopped_task_fails_with_reason_exit_code_and_log_lines(world, run_module, clock):
    task = world.run_tasks()[0]
    world.put_logs(
        task,
        [
            "INFO: starting",
            "Traceback (most recent call last):",
            "KeyError: 'DATABASE_URL'",
        ],
    )
    world.stop(
        task,
        reason="Essential container in task exited",
        stop_code="EssentialContainerExited",
        exit_code=3,
    )

    result = run_module(ecs_service_ip_info, args(wait=True, log_lines=2))

    assert result["failed"] is True
    msg = result["msg"]
    assert "Essential container in task exited" in msg
    assert "EssentialContainerExited" in msg
    assert f"{CONTAINER}: exit code 3" in msg
    assert "Traceback (most recent call last):" in msg
    assert "KeyError: 'DATABASE_URL'" in msg
    # Only the last log_lines lines.
    assert "INFO: starting" not in msg
    assert result["log_lines"] == ["Traceback (most recent call last):", "KeyError: 'DATABASE_URL'"]
    assert "Your app exited" in msg
    assert CLUSTER in msg and SERVICE in msg
    assert result["stopped_task"]["task_arn"] == task["taskArn"]
    assert result["stopped_task"]["stop_code"] == "EssentialContainerExited"
    assert result["stopped_task"]["containers"][0]["exit_code"] == 3
    # Failed fast, without waiting.
    assert clock.sleeps == []


def test_stopped_task_without_logs_explains_a_pull_error(world, run_module, clock):
    task = world.run_tasks()[0]
    reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"
    world.stop(task, reason=reason, stop_code="TaskFailedToStart", container_reason=reason)

    result = run_module(ecs_service_ip_info, args(wait=True))

    assert result["failed"] is True
    assert reason in result["msg"]
    assert "image URI" in result["msg"]
    assert "No log stream" in result["msg"]
    assert result["log_lines"] == []
    assert "exception" not in result


def test_stopped_task_with_access_denied_suggests_labrole(world, run_module, clock):
    task = world.run_tasks()[0]
    world.stop(
        task,
        reason="ResourceInitializationError: unable to pull secrets or registry auth: AccessDeniedException",
        stop_code="TaskFailedToStart",
    )

    result = run_module(ecs_service_ip_info, args(wait=True, log_lines=0))

    assert result["failed"] is True
    assert "LabRole" in result["msg"]
    assert "execution role" in result["msg"]


def test_stopped_task_is_only_reported_when_waiting(world, run_module, clock):
    task = world.run_tasks()[0]
    world.stop(task, reason="Essential container in task exited", stop_code="EssentialContainerExited", exit_code=1)

    result = run_module(ecs_service_ip_info, args(wait=False))

    assert result["failed"] is False
    assert result["tasks"][0]["last_status"] == "STOPPED"
    assert result["tasks"][0]["stopped_reason"] == "Essential container in task exited"
    assert result["running_count"] == 0
    assert result["public_ip"] is None


def test_timeout_without_tasks(world, run_module, clock):
    result = run_module(ecs_service_ip_info, args(wait=True, wait_timeout=12, poll_interval=5))

    assert result["failed"] is True
    msg = result["msg"]
    assert msg.startswith("Timed out after 12 s")
    assert f"cluster '{CLUSTER}'" in msg
    assert f"service '{SERVICE}'" in msg
    assert "no tasks" in msg
    assert "ECS has not started any task" in msg
    assert clock.sleeps == [5, 5, 2]
    assert result["running_count"] == 0
    assert result["desired_count"] == 1


def test_timeout_with_a_task_stuck_in_provisioning(world, run_module, clock):
    task = world.run_tasks()[0]
    world.backend_task(task["taskArn"]).status = "PROVISIONING"

    result = run_module(ecs_service_ip_info, args(wait=True, wait_timeout=3, poll_interval=1))

    assert result["failed"] is True
    assert "1 PROVISIONING" in result["msg"]
    assert "public subnets" in result["msg"]
    assert result["tasks"][0]["last_status"] == "PROVISIONING"
    assert len(clock.sleeps) == 3


def test_running_task_without_public_ip_fails_after_a_grace_period(world, run_module, clock):
    world.run_tasks()

    result = run_module(ecs_service_ip_info, args(wait=True, wait_timeout=600, poll_interval=5))

    assert result["failed"] is True
    msg = result["msg"]
    assert not msg.startswith("Timed out")
    assert "RUNNING but has no public IP" in msg
    assert "assignPublicIp ENABLED" in msg
    assert "public subnets of the default VPC" in msg
    assert ecs_service_ip_info.PUBLIC_IP_GRACE_SECONDS <= clock.now - 1000.0 < 600


def test_waits_until_the_public_ip_appears(world, run_module, clock, monkeypatch):
    task = world.run_tasks()[0]
    expected = {}

    real_sleep = clock.sleep

    def sleep_then_associate(seconds):
        real_sleep(seconds)
        if len(clock.sleeps) == 2:
            expected["ip"] = world.attach_public_ip(task)

    monkeypatch.setattr(clock, "sleep", sleep_then_associate)

    result = run_module(ecs_service_ip_info, args(wait=True, poll_interval=2))

    assert result["failed"] is False
    assert result["public_ip"] == expected["ip"]
    assert clock.sleeps == [2, 2]


@pytest.fixture
def paginated_list_tasks(monkeypatch):
    """Make moto's list_tasks honour maxResults / nextToken, and record each page request."""
    pages = []
    original = EC2ContainerServiceResponse.list_tasks

    def list_tasks(self):
        arns = original(self)._result["taskArns"]
        size = self._get_param("maxResults") or 100
        start = int(self._get_param("nextToken") or 0)
        page = {"taskArns": arns[start : start + size]}
        if start + size < len(arns):
            page["nextToken"] = str(start + size)
        pages.append({"startedBy": self._get_param("startedBy"), "start": start, "size": size})
        return ActionResult(page)

    monkeypatch.setattr(EC2ContainerServiceResponse, "list_tasks", list_tasks)
    return pages


def test_pagination_over_list_tasks_and_describe_tasks(aws, run_module, clock, monkeypatch, paginated_list_tasks):
    world = EcsWorld(desired_count=5)
    monkeypatch.setattr(ecs_tasks, "LIST_TASKS_PAGE_SIZE", 2)
    monkeypatch.setattr(ecs_tasks, "DESCRIBE_TASKS_BATCH_SIZE", 2)
    started = world.run_tasks(count=5)
    ips = {t["taskArn"]: world.attach_public_ip(t) for t in started}

    result = run_module(ecs_service_ip_info, args(wait=True))

    assert result["failed"] is False
    assert sorted(t["task_arn"] for t in result["tasks"]) == sorted(ips)
    assert {t["task_arn"]: t["public_ip"] for t in result["tasks"]} == ips
    assert result["running_count"] == 5
    assert result["desired_count"] == 5
    # 5 running tasks in pages of 2: pages at 0, 2 and 4 for the serviceName and the startedBy listing.
    running_pages = [p["start"] for p in paginated_list_tasks if p["size"] == 2]
    assert running_pages.count(4) >= 2
    assert all(p["size"] == 2 for p in paginated_list_tasks)


def test_more_than_one_hundred_tasks(aws, run_module, clock):
    world = EcsWorld(desired_count=105)
    world.run_tasks(count=105)

    result = run_module(ecs_service_ip_info, args(wait=True, require_public_ip=False))

    assert result["failed"] is False
    assert result["running_count"] == 105
    assert len({t["task_arn"] for t in result["tasks"]}) == 105


def test_desired_count_zero_fails_when_waiting(aws, run_module, clock):
    EcsWorld(desired_count=0)

    result = run_module(ecs_service_ip_info, args(wait=True))

    assert result["failed"] is True
    assert "desired count of 0" in result["msg"]


def test_missing_service(world, run_module):
    result = run_module(ecs_service_ip_info, args(service="nope"))

    assert result["failed"] is True
    assert "ECS service 'nope' does not exist in cluster 'outsource-cluster'" in result["msg"]
    assert "exception" not in result


def test_missing_cluster(aws, run_module):
    result = run_module(ecs_service_ip_info, args(cluster="nope"))

    assert result["failed"] is True
    assert "ECS cluster 'nope' does not exist" in result["msg"]
    assert "exception" not in result


@pytest.mark.parametrize(
    "bad, expected",
    [
        ({"poll_interval": 0}, "poll_interval must be at least 1 second"),
        ({"wait_timeout": -1}, "wait_timeout must be 0 or more"),
        ({"port": 70000}, "port must be between 1 and 65535"),
        ({"log_lines": -1}, "log_lines must be between 0 and 10000"),
    ],
)
def test_bad_options_fail_before_any_aws_call(run_module, bad, expected):
    result = run_module(ecs_service_ip_info, args(**bad))

    assert result["failed"] is True
    assert expected in result["msg"]


def test_check_mode_reads_the_same(world, run_module, clock):
    task = world.run_tasks()[0]
    ip = world.attach_public_ip(task)

    result = run_module(ecs_service_ip_info, args(wait=True, _ansible_check_mode=True))

    assert result["failed"] is False
    assert result["changed"] is False
    assert result["public_ip"] == ip


def with_old_deployment(monkeypatch, running_counts):
    """describe_service answers with an older ACTIVE deployment whose runningCount walks through running_counts."""
    real = ecs_service_ip_info.describe_service
    counts = iter(running_counts)

    def fake(client, cluster, service):
        answer = real(client, cluster, service)
        old = {"id": "ecs-svc/old", "status": "ACTIVE", "taskDefinition": "old:1", "runningCount": next(counts, 0)}
        answer["deployments"] = [*answer["deployments"], old]
        return answer

    monkeypatch.setattr(ecs_service_ip_info, "describe_service", fake)


def test_waits_until_the_old_deployment_has_no_running_task(world, run_module, clock, monkeypatch):
    world.attach_public_ip(world.run_tasks()[0])
    with_old_deployment(monkeypatch, [1, 1, 0])

    result = run_module(ecs_service_ip_info, args(wait=True, poll_interval=3, wait_for_old_deployments=True))

    assert result["failed"] is False
    assert result["old_running_count"] == 0
    assert clock.sleeps == [3, 3]


def test_old_deployment_is_ignored_unless_asked(world, run_module, clock, monkeypatch):
    world.attach_public_ip(world.run_tasks()[0])
    with_old_deployment(monkeypatch, [1, 1, 0])

    result = run_module(ecs_service_ip_info, args(wait=True))

    assert result["failed"] is False
    assert result["old_running_count"] == 1
    assert clock.sleeps == []


def test_timeout_names_the_old_tasks_still_running(world, run_module, clock, monkeypatch):
    world.attach_public_ip(world.run_tasks()[0])
    with_old_deployment(monkeypatch, [2] * 100)

    result = run_module(
        ecs_service_ip_info, args(wait=True, wait_timeout=6, poll_interval=3, wait_for_old_deployments=True)
    )

    assert result["failed"] is True
    assert "2 task(s) of an older deployment still run" in result["msg"]
