# -*- coding: utf-8 -*-

# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Find the tasks of an ECS service deployment and explain why they stopped.

Client arguments are clients created with
``module.client(..., retry_decorator=AWSRetry.jittered_backoff())``; every call uses
``aws_retry=True``. Problems the user can fix raise EcsLookupError with a message that says
what happened and what to do; other botocore errors are raised to the caller.
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

# list_tasks returns at most 100 ARNs per page; describe_tasks takes at most 100 ARNs.
LIST_TASKS_PAGE_SIZE = 100
DESCRIBE_TASKS_BATCH_SIZE = 100
# describe_network_interfaces filter values per call.
ENI_BATCH_SIZE = 200


class EcsLookupError(Exception):
    """A problem the user can fix; the message says what to do."""


def describe_service(client, cluster, service):
    """Return the service dict; raise EcsLookupError when the cluster or service is missing."""
    try:
        response = client.describe_services(aws_retry=True, cluster=cluster, services=[service])
    except is_boto3_error_code("ClusterNotFoundException"):
        raise EcsLookupError(
            f"ECS cluster '{cluster}' does not exist in this account and region. "
            "Check the cluster name and the region, or create the cluster first (the ecs role does)."
        ) from None
    for found in response.get("services", []):
        if found.get("status") != "INACTIVE":
            return found
    raise EcsLookupError(
        f"ECS service '{service}' does not exist in cluster '{cluster}' (or it was deleted). "
        "Check the service name, or create the service first (the ecs role does)."
    )


def primary_deployment(service):
    """The newest deployment of the service (status PRIMARY), or None."""
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY":
            return deployment
    return None


def list_task_arns(client, cluster, **filters):
    """All task ARNs of ``list_tasks`` with the given filters, following nextToken."""
    arns = []
    params = dict(cluster=cluster, maxResults=LIST_TASKS_PAGE_SIZE, **filters)
    while True:
        response = client.list_tasks(aws_retry=True, **params)
        arns.extend(response.get("taskArns", []))
        token = response.get("nextToken")
        if not token:
            return arns
        params["nextToken"] = token


def describe_tasks(client, cluster, task_arns):
    """describe_tasks in batches; returns the task dicts."""
    tasks = []
    for start in range(0, len(task_arns), DESCRIBE_TASKS_BATCH_SIZE):
        batch = task_arns[start : start + DESCRIBE_TASKS_BATCH_SIZE]
        response = client.describe_tasks(aws_retry=True, cluster=cluster, tasks=batch)
        tasks.extend(response.get("tasks", []))
    return tasks


def task_belongs_to_deployment(task, service_name, deployment):
    """True when ``task`` was started for ``deployment`` of service ``service_name``.

    The task must run the deployment's task definition. ECS sets startedBy to the deployment id
    for service tasks; emulators leave it out or set it to the service name (MiniStack), and then
    the task group must be ``service:<name>``.
    """
    if task.get("taskDefinitionArn") != deployment.get("taskDefinition"):
        return False
    started_by = task.get("startedBy")
    if started_by and started_by != service_name:
        return started_by == deployment.get("id")
    return task.get("group") == f"service:{service_name}"


def _created(task):
    value = task.get("createdAt") or task.get("startedAt")
    if hasattr(value, "timestamp"):
        return value.timestamp()
    return 0


def find_deployment_tasks(client, cluster, service_name, deployment):
    """Tasks (RUNNING and STOPPED desired status) of the deployment, newest first."""
    arns = []
    for desired_status in ("RUNNING", "STOPPED"):
        arns.extend(list_task_arns(client, cluster, serviceName=service_name, desiredStatus=desired_status))
        # Some emulators ignore serviceName; ECS sets startedBy to the deployment id.
        if deployment.get("id"):
            arns.extend(list_task_arns(client, cluster, startedBy=deployment["id"], desiredStatus=desired_status))
    unique = list(dict.fromkeys(arns))
    if not unique:
        return []
    tasks = [
        t for t in describe_tasks(client, cluster, unique) if task_belongs_to_deployment(t, service_name, deployment)
    ]
    tasks.sort(key=_created, reverse=True)
    return tasks


def task_id(task_arn):
    return (task_arn or "").rsplit("/", 1)[-1]


def task_network(task):
    """(private_ip, eni_id) from the task's ElasticNetworkInterface attachment."""
    private_ip = None
    eni_id = None
    for attachment in task.get("attachments", []):
        details = {d.get("name"): d.get("value") for d in attachment.get("details", [])}
        private_ip = private_ip or details.get("privateIPv4Address")
        eni_id = eni_id or details.get("networkInterfaceId")
    if not private_ip:
        for container in task.get("containers", []):
            for interface in container.get("networkInterfaces", []):
                private_ip = private_ip or interface.get("privateIpv4Address")
    return private_ip, eni_id


def public_ips_by_eni(ec2_client, eni_ids):
    """Map ENI id -> public IP (or None). ENIs that do not exist are left out.

    A filter (not NetworkInterfaceIds) is used so that one missing ENI does not fail the call.
    """
    found = {}
    eni_ids = [e for e in dict.fromkeys(eni_ids) if e]
    for start in range(0, len(eni_ids), ENI_BATCH_SIZE):
        batch = eni_ids[start : start + ENI_BATCH_SIZE]
        params = {"Filters": [{"Name": "network-interface-id", "Values": batch}]}
        while True:
            response = ec2_client.describe_network_interfaces(aws_retry=True, **params)
            for eni in response.get("NetworkInterfaces", []):
                found[eni.get("NetworkInterfaceId")] = (eni.get("Association") or {}).get("PublicIp")
            token = response.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
    return found


def _iso(value):
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def summarize_task(task, public_ips):
    """The module's view of one task (snake_case keys)."""
    private_ip, eni_id = task_network(task)
    return {
        "task_arn": task.get("taskArn"),
        "task_id": task_id(task.get("taskArn")),
        "last_status": task.get("lastStatus"),
        "desired_status": task.get("desiredStatus"),
        "task_definition_arn": task.get("taskDefinitionArn"),
        "private_ip": private_ip,
        "eni_id": eni_id,
        "public_ip": public_ips.get(eni_id) if eni_id else None,
        "started_at": _iso(task.get("startedAt")),
        "health_status": task.get("healthStatus"),
        "stopped_reason": task.get("stoppedReason") or None,
        "stop_code": task.get("stopCode"),
        "containers": [
            {
                "name": c.get("name"),
                "last_status": c.get("lastStatus"),
                "exit_code": c.get("exitCode"),
                "reason": c.get("reason"),
            }
            for c in task.get("containers", [])
        ],
    }


def awslogs_streams(task_definition, task_id_value):
    """[(container name, log group, stream name, region)] for containers that log with awslogs."""
    streams = []
    for container in task_definition.get("containerDefinitions", []):
        config = container.get("logConfiguration") or {}
        if config.get("logDriver") != "awslogs":
            continue
        options = config.get("options") or {}
        group = options.get("awslogs-group")
        prefix = options.get("awslogs-stream-prefix")
        if not group or not prefix:
            continue
        stream = f"{prefix}/{container.get('name')}/{task_id_value}"
        streams.append((container.get("name"), group, stream, options.get("awslogs-region")))
    return streams


# (text found in stoppedReason / stopCode / container reasons, what to do)
_STOP_HINTS = [
    (
        "CannotPullContainerError",
        "ECS could not pull the container image. Check that the image URI in the task definition matches "
        "your ECR repository URI and tag exactly and that the image was pushed (ecr_image role); if the "
        "message mentions authorization, the execution role cannot pull from ECR: use a role that can "
        "(on AWS Academy try LabRole).",
    ),
    (
        "AccessDenied",
        "The task execution role is not allowed to do something the task needs (pull from ECR, write the "
        "log group, read secrets). Use a pre-existing role that allows it (try LabRole) or ask the organizers.",
    ),
    (
        "ResourceInitializationError",
        "ECS could not prepare the task (image registry auth, secrets or the log group). Usually the task "
        "execution role lacks permissions (try LabRole) or the subnet has no internet access (use the "
        "default VPC's public subnets with assignPublicIp ENABLED).",
    ),
    (
        "OutOfMemory",
        "The container ran out of memory: raise the task/container memory in the task definition.",
    ),
    (
        "EssentialContainerExited",
        "Your app exited (crashed) right after starting. Read the log lines above: usual causes are a "
        "missing or wrong environment variable, a wrong DATABASE_URL, or the database not reachable "
        "(the RDS security group must allow port 3306 from the ECS security group).",
    ),
]


def stop_hints(task):
    """Fix suggestions for a stopped task, most specific first."""
    texts = [task.get("stoppedReason") or "", task.get("stopCode") or ""]
    texts.extend(c.get("reason") or "" for c in task.get("containers", []))
    joined = " ".join(texts).lower()
    # The first (most specific) match only: one clear next step.
    hints = [hint for needle, hint in _STOP_HINTS if needle.lower() in joined][:1]
    exit_codes = [c.get("exitCode") for c in task.get("containers", []) if c.get("exitCode") not in (None, 0)]
    if not hints and exit_codes:
        hints.append(_STOP_HINTS[-1][1])
    if 137 in exit_codes and not any("memory" in h for h in hints):
        hints.append(
            "Exit code 137 means the container was killed: out of memory, or a failing health check. "
            "Raise the memory or check the health check command."
        )
    if not hints:
        hints.append(
            "Open the task in the ECS console (cluster > Tasks > filter Stopped) and the CloudWatch log group "
            "for details, fix the cause, then deploy again."
        )
    return hints


def describe_containers(task):
    """'name exit code N (reason)' for each container of the task."""
    parts = []
    for c in task.get("containers", []):
        exit_code = c.get("exitCode")
        text = f"{c.get('name')}: " + (f"exit code {exit_code}" if exit_code is not None else "no exit code")
        if c.get("reason"):
            text += f" ({c.get('reason')})"
        parts.append(text)
    return "; ".join(parts)


def count_by_status(tasks):
    """'1 RUNNING, 2 PENDING' for the given task summaries."""
    counts = {}
    for task in tasks:
        counts[task.get("last_status")] = counts.get(task.get("last_status"), 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: str(kv[0]))) or "no tasks"


def nip_io_host(ip_address):
    """'1-2-3-4.nip.io' for '1.2.3.4' (a DNS name that resolves to the IP)."""
    if not ip_address:
        return None
    return ip_address.replace(".", "-").replace(":", "-") + ".nip.io"
