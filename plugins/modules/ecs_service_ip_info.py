#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules start with their documentation; the imports follow it.

DOCUMENTATION = r"""
---
module: ecs_service_ip_info
version_added: 0.1.0
short_description: Find the IP address and URL of the running tasks of an ECS service
description:
  - Finds the tasks of the newest (V(PRIMARY)) deployment of an ECS service and returns their private and
    public IP addresses, and a ready-to-use URL of the first running task.
  - Optionally waits until the deployment runs its desired number of tasks (each with a public IP).
  - When a task of the deployment stops while waiting, fails at once with the stopped reason, the exit code
    of each container, the last lines of the task's CloudWatch log stream and what to do about it.
  - The public IP is read from the task's network interface (C(ec2:DescribeNetworkInterfaces)).
  - This module only reads; it never reports a change.
author:
  - outsource.deploy contributors
options:
  cluster:
    description:
      - Name or ARN of the ECS cluster.
    type: str
    required: true
  service:
    description:
      - Name or ARN of the ECS service.
    type: str
    required: true
  wait:
    description:
      - Wait until the PRIMARY deployment has its desired count of tasks in status V(RUNNING) (and, with
        O(require_public_ip), each with a public IP).
      - When V(false), report what is there now and never fail because tasks are not running.
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait at most when O(wait=true). Then the module fails with the state of the tasks
        and what to check.
    type: int
    default: 600
  poll_interval:
    description:
      - Seconds between two checks while waiting. At least 1.
    type: int
    default: 5
  port:
    description:
      - The port the container listens on; used to build RV(url) and RV(nip_io_url).
    type: int
    default: 8000
  require_public_ip:
    description:
      - Whether the tasks must have a public IP (tasks in a public subnet with C(assignPublicIp=ENABLED)).
      - With O(wait=true), the module waits for public IPs and fails when a running task has none.
      - When V(false) and a task has no public IP, RV(public_ip) and RV(url) use its private IP (useful on
        local emulators, which have no public IPs).
    type: bool
    default: true
  log_lines:
    description:
      - How many of the last lines of a stopped task's log stream to put into the failure message.
      - V(0) does not read the logs.
    type: int
    default: 20
  wait_for_old_deployments:
    description:
      - With O(wait=true), also wait until no task of an older deployment of the service is still running, so
        that after a redeploy the returned URL is the only one that answers.
    type: bool
    default: false
    version_added: 0.1.0
  task_definition_details:
    description:
      - Also describe the task definition the service runs and return it as RV(service_task_definition).
      - "B(It holds the container environment, which often carries secrets:) set C(no_log: true) on the task."
    type: bool
    default: false
    version_added: 0.1.0
notes:
  - Needs C(ecs:DescribeServices), C(ecs:ListTasks), C(ecs:DescribeTasks), C(ecs:DescribeTaskDefinition),
    C(ec2:DescribeNetworkInterfaces) and, to show the logs of a stopped task, C(logs:GetLogEvents).
  - The log stream of a task is C(<awslogs-stream-prefix>/<container name>/<task id>), as the C(awslogs)
    driver names it.
  - An Ansible module cannot print while it runs. While waiting it checks every O(poll_interval) seconds and
    returns as soon as the tasks are ready or one has stopped.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Wait for the API task and get its public URL
  outsource.deploy.ecs_service_ip_info:
    cluster: outsource-cluster
    service: outsource-api-service
    wait: true
    wait_timeout: 600
  register: api

- name: Show where the API answers
  ansible.builtin.debug:
    msg: "API at {{ api.url }} (also {{ api.nip_io_url }})"

- name: Check the health endpoint
  ansible.builtin.uri:
    url: "{{ api.url }}/health"
  register: health
  until: health.status == 200
  retries: 12
  delay: 5

- name: Find the task address on a local emulator that has no public IPs
  outsource.deploy.ecs_service_ip_info:
    cluster: outsource-cluster
    service: outsource-api-service
    wait: true
    require_public_ip: false
  register: api_local

- name: Only report the current tasks, do not wait
  outsource.deploy.ecs_service_ip_info:
    cluster: outsource-cluster
    service: outsource-api-service
  register: api_now
"""

RETURN = r"""
tasks:
  description:
    - The tasks of the PRIMARY deployment, newest first, including stopped tasks that ECS still lists.
  returned: always
  type: list
  elements: dict
  contains:
    task_arn:
      description: ARN of the task.
      returned: always
      type: str
      sample: arn:aws:ecs:us-east-1:123456789012:task/outsource-cluster/0b2f6c1e9d2a4f4e8d1c3b5a7e9f1a2b
    task_id:
      description: ID of the task (the last part of the ARN), also the last part of its log stream name.
      returned: always
      type: str
      sample: 0b2f6c1e9d2a4f4e8d1c3b5a7e9f1a2b
    last_status:
      description: Last known status of the task (V(PROVISIONING), V(PENDING), V(RUNNING), V(STOPPED), ...).
      returned: always
      type: str
      sample: RUNNING
    desired_status:
      description: The status ECS wants the task to reach.
      returned: always
      type: str
      sample: RUNNING
    task_definition_arn:
      description: ARN of the task definition the task runs.
      returned: always
      type: str
      sample: arn:aws:ecs:us-east-1:123456789012:task-definition/outsource-api:3
    private_ip:
      description: Private IPv4 address of the task, or V(null) before it has one.
      returned: always
      type: str
      sample: 172.31.20.15
    eni_id:
      description: ID of the task's elastic network interface, or V(null) when there is none.
      returned: always
      type: str
      sample: eni-0a1b2c3d4e5f67890
    public_ip:
      description: Public IPv4 address of the task's network interface, or V(null) when it has none.
      returned: always
      type: str
      sample: 3.95.123.45
    started_at:
      description: When the task started (ISO 8601), or V(null) before it started.
      returned: always
      type: str
      sample: "2026-12-03T16:24:05.123000+00:00"
    health_status:
      description: Health of the task from its container health checks (V(HEALTHY), V(UNHEALTHY), V(UNKNOWN)).
      returned: always
      type: str
      sample: UNKNOWN
    stopped_reason:
      description: Why the task stopped, or V(null).
      returned: always
      type: str
      sample: Essential container in task exited
    stop_code:
      description: ECS stop code of a stopped task, or V(null).
      returned: always
      type: str
      sample: EssentialContainerExited
    containers:
      description: The containers of the task.
      returned: always
      type: list
      elements: dict
      contains:
        name:
          description: Container name.
          returned: always
          type: str
          sample: outsource-api
        last_status:
          description: Last known status of the container.
          returned: always
          type: str
          sample: RUNNING
        exit_code:
          description: Exit code of a stopped container, or V(null).
          returned: always
          type: int
          sample: 1
        reason:
          description: Why the container stopped, or V(null).
          returned: always
          type: str
          sample: "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
public_ip:
  description:
    - Public IP of the first running task.
    - With O(require_public_ip=false), the private IP of the first running task when it has no public IP.
    - V(null) when no task is running.
  returned: always
  type: str
  sample: 3.95.123.45
private_ip:
  description: Private IP of the same task, or V(null) when no task is running.
  returned: always
  type: str
  sample: 172.31.20.15
url:
  description: C(http://<public_ip>:<port>), or V(null) when there is no address.
  returned: always
  type: str
  sample: http://3.95.123.45:8000
nip_io_host:
  description: A host name that resolves to RV(public_ip) through nip.io, or V(null).
  returned: always
  type: str
  sample: 3-95-123-45.nip.io
nip_io_url:
  description: C(http://<nip_io_host>:<port>), or V(null).
  returned: always
  type: str
  sample: http://3-95-123-45.nip.io:8000
deployment_id:
  description: ID of the PRIMARY deployment of the service.
  returned: always
  type: str
  sample: ecs-svc/1234567890123456789
task_definition:
  description: ARN of the task definition of the PRIMARY deployment.
  returned: always
  type: str
  sample: arn:aws:ecs:us-east-1:123456789012:task-definition/outsource-api:3
rollout_state:
  description: Rollout state of the PRIMARY deployment (V(IN_PROGRESS), V(COMPLETED), V(FAILED)), or V(null).
  returned: always
  type: str
  sample: COMPLETED
old_running_count:
  description: How many tasks of older (not PRIMARY) deployments of the service are still running.
  returned: always
  type: int
  sample: 0
running_count:
  description: How many tasks of the PRIMARY deployment are in status V(RUNNING).
  returned: always
  type: int
  sample: 1
desired_count:
  description: How many tasks the PRIMARY deployment wants.
  returned: always
  type: int
  sample: 1
service:
  description:
    - The service as C(ecs:DescribeServices) returns it, in snake_case, without its events.
    - Lets a caller compare the running service (task definition, desired count, network configuration) with
      what it wants, without a second lookup.
  returned: always
  type: dict
  version_added: 0.1.0
  contains:
    service_name:
      description: Name of the service.
      returned: always
      type: str
      sample: outsource-api-service
    status:
      description: V(ACTIVE) or V(DRAINING).
      returned: always
      type: str
      sample: ACTIVE
    task_definition:
      description: ARN of the task definition the service runs.
      returned: always
      type: str
      sample: arn:aws:ecs:us-east-1:123456789012:task-definition/outsource-api:3
    desired_count:
      description: How many tasks the service wants.
      returned: always
      type: int
      sample: 1
    network_configuration:
      description: The service's C(awsvpc_configuration) (subnets, security groups, assign_public_ip).
      returned: when the service uses awsvpc networking
      type: dict
      sample:
        awsvpc_configuration:
          subnets: [subnet-0a1b2c3d]
          security_groups: [sg-0a1b2c3d]
          assign_public_ip: ENABLED
    deployments:
      description: The deployments of the service (PRIMARY first as ECS lists them).
      returned: always
      type: list
      elements: dict
service_task_definition:
  description:
    - With O(task_definition_details=true), the task definition the service runs, as C(ecs:DescribeTaskDefinition)
      returns it, in snake_case (the shape of M(community.aws.ecs_taskdefinition_info)); V({}) otherwise.
    - Contains the container environment.
  returned: always
  type: dict
  version_added: 0.1.0
  sample:
    family: outsource-api
    revision: 3
    status: ACTIVE
    task_definition_arn: arn:aws:ecs:us-east-1:123456789012:task-definition/outsource-api:3
    execution_role_arn: arn:aws:iam::123456789012:role/LabRole
    container_definitions:
      - name: outsource-api
        image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/outsource-api:3f9a2c4b7d1e
stopped_task:
  description:
    - The task that stopped while waiting, in the same form as an element of RV(tasks).
    - Only in the result of a failed task, when O(wait=true) and a task of the deployment stopped.
  returned: failure
  type: dict
  sample:
    task_id: 0b2f6c1e9d2a4f4e8d1c3b5a7e9f1a2b
    last_status: STOPPED
    stopped_reason: Essential container in task exited
    stop_code: EssentialContainerExited
log_lines:
  description:
    - The last O(log_lines) lines of the stopped task's log stream (also quoted in the failure message).
    - Only in the result of a failed task, when O(wait=true) and a task of the deployment stopped.
  returned: failure
  type: list
  elements: str
  sample:
    - "Traceback (most recent call last):"
    - "KeyError: 'DATABASE_URL'"
"""

import time

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.outsource.deploy.plugins.module_utils.ecs_tasks import (
    EcsLookupError,
    awslogs_streams,
    count_by_status,
    describe_containers,
    describe_service,
    find_deployment_tasks,
    nip_io_host,
    primary_deployment,
    public_ips_by_eni,
    stop_hints,
    summarize_task,
    task_id,
    task_network,
)
from ansible_collections.outsource.deploy.plugins.module_utils.logs import event_lines, read_stream_events

# A task that is RUNNING gets its public IP when its network interface is attached, before it runs.
# Allow this long for the address to show up before saying that it will not.
PUBLIC_IP_GRACE_SECONDS = 30
# How many recent service events to quote when the wait times out.
SERVICE_EVENTS_SHOWN = 3

PUBLIC_IP_HELP = (
    "A task only gets a public IP when the service's network configuration has assignPublicIp ENABLED and "
    "its subnets are public subnets of the default VPC (guide section 10, Networking: Public IP turned ON). "
    "Fix the service's network configuration (the ecs role sets it) and deploy again. "
    "On a local emulator without public IPs, set require_public_ip: false."
)


class ServiceIpFinder:
    def __init__(self, module):
        self.module = module
        self.cluster = module.params["cluster"]
        self.service_name = module.params["service"]
        self.retry = AWSRetry.jittered_backoff()
        self.ecs = module.client("ecs", retry_decorator=self.retry)
        self._ec2 = None  # created on first use: loading the EC2 API model takes a moment
        self._logs_clients = {}
        self.service = None
        self.deployment = None
        self.raw_tasks = []
        self.tasks = []

    def ec2_client(self):
        if self._ec2 is None:
            self._ec2 = self.module.client("ec2", retry_decorator=self.retry)
        return self._ec2

    # ---- reading the current state -------------------------------------------------------------

    def refresh(self):
        try:
            self.service = describe_service(self.ecs, self.cluster, self.service_name)
        except EcsLookupError as e:
            self.module.fail_json(msg=str(e), cluster=self.cluster, service=self.service_name)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.module.fail_json_aws(
                e,
                msg=f"Could not describe ECS service '{self.service_name}' in cluster '{self.cluster}' "
                "(check the AWS credentials and region, and that they allow ecs:DescribeServices)",
            )
        self.deployment = primary_deployment(self.service)
        if self.deployment is None:
            self.module.fail_json(
                msg=f"ECS service '{self.service_name}' in cluster '{self.cluster}' has no PRIMARY deployment, "
                "so there are no tasks to look at. Update the service (force a new deployment) and try again.",
                cluster=self.cluster,
                service=self.service_name,
            )
        try:
            self.raw_tasks = find_deployment_tasks(self.ecs, self.cluster, self.service["serviceName"], self.deployment)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.module.fail_json_aws(
                e,
                msg=f"Could not list the tasks of ECS service '{self.service_name}' in cluster '{self.cluster}' "
                "(the credentials need ecs:ListTasks and ecs:DescribeTasks)",
            )
        eni_ids = []
        for task in self.raw_tasks:
            eni_id = task_network(task)[1]
            if eni_id and task.get("lastStatus") != "STOPPED":
                eni_ids.append(eni_id)
        public_ips = {}
        if eni_ids:
            try:
                public_ips = public_ips_by_eni(self.ec2_client(), eni_ids)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                self.module.fail_json_aws(
                    e,
                    msg=f"Could not read the network interfaces of the tasks of ECS service '{self.service_name}' "
                    "to find their public IPs (the credentials need ec2:DescribeNetworkInterfaces)",
                )
        self.tasks = [summarize_task(t, public_ips) for t in self.raw_tasks]

    @property
    def desired_count(self):
        return int(self.deployment.get("desiredCount") or 0)

    def running(self, with_public_ip=False):
        return [t for t in self.tasks if t["last_status"] == "RUNNING" and (t["public_ip"] or not with_public_ip)]

    @property
    def old_running_count(self):
        deployments = (self.service or {}).get("deployments") or []
        return sum(int(d.get("runningCount") or 0) for d in deployments if d.get("status") != "PRIMARY")

    def is_ready(self, require_public_ip):
        if self.module.params["wait_for_old_deployments"] and self.old_running_count > 0:
            return False
        return self.desired_count > 0 and len(self.running(require_public_ip)) >= self.desired_count

    def running_without_public_ip(self):
        return [t for t in self.running() if not t["public_ip"]]

    def stopped_raw_task(self):
        for task in self.raw_tasks:
            if task.get("lastStatus") == "STOPPED":
                return task
        return None

    # ---- results ----------------------------------------------------------------------------------

    def result(self):
        params = self.module.params
        running = self.running()
        chosen = next((t for t in running if t["public_ip"]), running[0] if running else None)
        private_ip = chosen["private_ip"] if chosen else None
        address = None
        if chosen:
            address = chosen["public_ip"] or (None if params["require_public_ip"] else private_ip)
        host = nip_io_host(address)
        return dict(
            changed=False,
            tasks=self.tasks,
            public_ip=address,
            private_ip=private_ip,
            url=f"http://{address}:{params['port']}" if address else None,
            nip_io_host=host,
            nip_io_url=f"http://{host}:{params['port']}" if host else None,
            deployment_id=self.deployment.get("id"),
            task_definition=self.deployment.get("taskDefinition"),
            rollout_state=self.deployment.get("rolloutState"),
            running_count=len(running),
            desired_count=self.desired_count,
            old_running_count=self.old_running_count,
            service=camel_dict_to_snake_dict({k: v for k, v in (self.service or {}).items() if k != "events"}),
            service_task_definition={},
        )

    def where(self):
        return f"ECS service '{self.service_name}' in cluster '{self.cluster}'"

    def service_events(self):
        events = (self.service or {}).get("events", [])[:SERVICE_EVENTS_SHOWN]
        return [e.get("message") for e in events if e.get("message")]

    # ---- failures ---------------------------------------------------------------------------------

    def logs_client(self, region):
        key = region or ""
        if key not in self._logs_clients:
            extra = {"region": region} if region else {}
            self._logs_clients[key] = self.module.client("logs", retry_decorator=self.retry, **extra)
        return self._logs_clients[key]

    def stopped_task_logs(self, task):
        """(log lines, message lines) for the last log lines of the task's containers.

        The message lines hold a header per stream followed by its lines, or a note saying why there are none.
        Reading the logs never fails the module: a problem becomes a note.
        """
        count = self.module.params["log_lines"]
        if count <= 0:
            return [], []
        try:
            task_definition = self.ecs.describe_task_definition(
                aws_retry=True, taskDefinition=task["taskDefinitionArn"]
            )["taskDefinition"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            return [], [f"(Could not read the task definition to find the task's log stream: {e})"]
        streams = awslogs_streams(task_definition, task_id(task.get("taskArn")))
        if not streams:
            return [], [
                "(The task definition has no awslogs log configuration with an awslogs-stream-prefix, so there "
                "are no logs to show.)"
            ]
        log_lines = []
        message = []
        for container, group, stream, region in streams:
            try:
                events = read_stream_events(self.logs_client(region), group, stream, count)
            except is_boto3_error_code("ResourceNotFoundException"):
                message.append(
                    f"(No log stream '{stream}' in log group '{group}' yet: the container probably never started, "
                    "see the stopped reason.)"
                )
                continue
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
                message.append(f"(Could not read log stream '{stream}' in log group '{group}': {e})")
                continue
            if not events:
                message.append(f"(Log stream '{stream}' in log group '{group}' is empty.)")
                continue
            lines = event_lines(events)
            message.append(f"Last {len(lines)} log lines of container '{container}' ({group} {stream}):")
            message.extend(f"  {line}" for line in lines)
            log_lines.extend(lines)
        return log_lines, message

    def fail_stopped(self, task):
        summary = summarize_task(task, {})
        log_lines, log_message = self.stopped_task_logs(task)
        reason = task.get("stoppedReason") or "no reason given"
        stop_code = f" (stop code {task['stopCode']})" if task.get("stopCode") else ""
        parts = [f"Task {summary['task_id']} of {self.where()} stopped: {reason}{stop_code}."]
        containers = describe_containers(task)
        if containers:
            parts.append(f"Containers: {containers}.")
        parts.extend(log_message)
        parts.append("What to do: " + " ".join(stop_hints(task)))
        self.module.fail_json(msg="\n".join(parts), stopped_task=summary, log_lines=log_lines, **self.result())

    def fail_no_public_ip(self, task):
        assign = (
            (self.deployment.get("networkConfiguration") or self.service.get("networkConfiguration") or {})
            .get("awsvpcConfiguration", {})
            .get("assignPublicIp")
        )
        if assign == "ENABLED":
            now = " The service has assignPublicIp ENABLED, so its subnet is probably not a public subnet."
        elif assign:
            now = f" The service has assignPublicIp {assign}."
        else:
            now = ""
        self.module.fail_json(
            msg=f"Task {task['task_id']} of {self.where()} is RUNNING but has no public IP, so it cannot be "
            f"reached from the internet.{now} {PUBLIC_IP_HELP}",
            **self.result(),
        )

    def fail_timeout(self, timeout, require_public_ip):
        want = f"{self.desired_count} running task(s)" + (" with a public IP" if require_public_ip else "")
        parts = [
            f"Timed out after {timeout} s waiting for {self.where()}: deployment {self.deployment.get('id')} "
            f"wants {want}; its tasks now: {count_by_status(self.tasks)}."
        ]
        if self.module.params["wait_for_old_deployments"] and self.old_running_count:
            parts.append(
                f"{self.old_running_count} task(s) of an older deployment still run: ECS stops them once the new "
                "task is healthy; wait longer, or look at the service events."
            )
        if self.deployment.get("rolloutStateReason"):
            parts.append(f"Rollout: {self.deployment.get('rolloutState')}: {self.deployment['rolloutStateReason']}")
        events = self.service_events()
        if events:
            parts.append("Recent service events: " + " | ".join(events))
        statuses = {t["last_status"] for t in self.tasks}
        checks = []
        if not self.tasks:
            where_events = "above" if events else "(ECS console > cluster > service > Events tab)"
            checks.append(
                f"ECS has not started any task: read the service events {where_events}, for example 'unable to "
                "place a task'; check that the task definition's CPU/memory combination is valid for Fargate and "
                "that the service's subnets and security group exist."
            )
        if statuses & {"PROVISIONING", "PENDING", "ACTIVATING"}:
            checks.append(
                "Tasks that stay PROVISIONING or PENDING usually have no internet access to pull the image: use "
                "the default VPC's public subnets and turn the public IP on (assignPublicIp ENABLED)."
            )
        if require_public_ip and self.running_without_public_ip():
            checks.append(PUBLIC_IP_HELP)
        if not checks:
            checks.append(
                "Look at the tasks in the ECS console (cluster > Tasks) and at the log group, or wait longer "
                "(wait_timeout)."
            )
        parts.append("What to check: " + " ".join(checks))
        self.module.fail_json(msg="\n".join(parts), **self.result())

    # ---- main loop --------------------------------------------------------------------------------

    def service_task_definition(self):
        arn = (self.service or {}).get("taskDefinition")
        if not arn:
            return {}
        try:
            found = self.ecs.describe_task_definition(aws_retry=True, taskDefinition=arn)["taskDefinition"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.module.fail_json_aws(
                e,
                msg=f"Could not describe the task definition {arn} of {self.where()} "
                "(the credentials need ecs:DescribeTaskDefinition)",
            )
        return camel_dict_to_snake_dict(found)

    def run(self):
        result = self.find()
        if self.module.params["task_definition_details"]:
            result["service_task_definition"] = self.service_task_definition()
        return result

    def find(self):
        params = self.module.params
        self.refresh()
        if not params["wait"]:
            return self.result()

        require_public_ip = params["require_public_ip"]
        timeout = params["wait_timeout"]
        start = time.monotonic()
        no_ip_since = None
        while True:
            if self.desired_count == 0:
                self.module.fail_json(
                    msg=f"The PRIMARY deployment of {self.where()} has a desired count of 0, so no task will "
                    "ever start. Set the service's desired count to 1 or more and try again.",
                    **self.result(),
                )
            if self.is_ready(require_public_ip):
                return self.result()
            stopped = self.stopped_raw_task()
            if stopped is not None:
                self.fail_stopped(stopped)
            elapsed = time.monotonic() - start
            without_ip = self.running_without_public_ip() if require_public_ip else []
            if without_ip and len(self.running()) >= self.desired_count:
                no_ip_since = elapsed if no_ip_since is None else no_ip_since
                if elapsed - no_ip_since >= PUBLIC_IP_GRACE_SECONDS:
                    self.fail_no_public_ip(without_ip[0])
            else:
                no_ip_since = None
            if elapsed >= timeout:
                self.fail_timeout(timeout, require_public_ip)
            time.sleep(max(1, min(params["poll_interval"], timeout - elapsed)))
            self.refresh()


def main():
    argument_spec = dict(
        cluster=dict(type="str", required=True),
        service=dict(type="str", required=True),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
        poll_interval=dict(type="int", default=5),
        port=dict(type="int", default=8000),
        require_public_ip=dict(type="bool", default=True),
        log_lines=dict(type="int", default=20),
        wait_for_old_deployments=dict(type="bool", default=False),
        task_definition_details=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)

    params = module.params
    if params["wait_timeout"] < 0:
        module.fail_json(msg=f"wait_timeout must be 0 or more seconds, got {params['wait_timeout']}.")
    if params["poll_interval"] < 1:
        module.fail_json(msg=f"poll_interval must be at least 1 second, got {params['poll_interval']}.")
    if not 1 <= params["port"] <= 65535:
        module.fail_json(msg=f"port must be between 1 and 65535, got {params['port']}.")
    if params["log_lines"] < 0 or params["log_lines"] > 10000:
        module.fail_json(msg=f"log_lines must be between 0 and 10000, got {params['log_lines']}.")

    module.exit_json(**ServiceIpFinder(module).run())


if __name__ == "__main__":
    main()
