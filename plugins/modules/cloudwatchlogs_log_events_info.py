#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules start with their documentation; the imports follow it.

DOCUMENTATION = r"""
---
module: cloudwatchlogs_log_events_info
version_added: 0.1.0
short_description: Read the last log lines of a CloudWatch Logs group
description:
  - Reads log events from a CloudWatch Logs group, like C(aws logs tail) without C(--follow).
  - With O(log_stream_name), reads that stream. Without it, reads the newest streams of the group (by the time
    of their last event), optionally only those whose name starts with O(log_stream_name_prefix).
  - Returns the events oldest first, and their messages alone in RV(lines).
  - A log group that does not exist is not an error. The module returns no events and
    RV(log_group_exists=false) (the group is usually created when the first task starts).
author:
  - outsource.deploy contributors
options:
  log_group_name:
    description:
      - Name of the log group, for example C(/ecs/outsource-api).
    type: str
    required: true
  log_stream_name:
    description:
      - Name of one log stream to read. An ECS task that logs with C(awslogs) writes to
        C(<awslogs-stream-prefix>/<container name>/<task id>).
      - A stream that does not exist gives no events.
    type: str
  log_stream_name_prefix:
    description:
      - Without O(log_stream_name), only read streams whose name starts with this, for example
        C(ecs/outsource-api/).
    type: str
  limit:
    description:
      - How many events to return at most (1 to 10000).
      - The last O(limit) events over all streams read, or the first O(limit) with O(start_from_head=true).
    type: int
    default: 50
  start_from_head:
    description:
      - Return the first (oldest) events of the stream instead of the last ones.
      - Without O(log_stream_name), only the newest stream is read from its start (for example the startup
        output of the newest ECS task).
    type: bool
    default: false
notes:
  - Needs C(logs:DescribeLogGroups), C(logs:DescribeLogStreams) and C(logs:GetLogEvents).
  - Without O(log_stream_name), at most the 50 newest streams are read.
  - C(lastEventTimestamp) of a stream is updated by AWS with a delay, so the newest seconds of a busy group
    may belong to a stream that is not yet counted as the newest.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the last 50 log lines of the API
  outsource.deploy.cloudwatchlogs_log_events_info:
    log_group_name: /ecs/outsource-api
  register: api_logs

- name: Show them
  ansible.builtin.debug:
    var: api_logs.lines

- name: Read the startup output of one ECS task
  outsource.deploy.cloudwatchlogs_log_events_info:
    log_group_name: /ecs/outsource-api
    log_stream_name: "ecs/outsource-api/{{ task_id }}"
    start_from_head: true
    limit: 100
  register: task_logs

- name: Read the last 20 lines of the streams of one container
  outsource.deploy.cloudwatchlogs_log_events_info:
    log_group_name: /ecs/outsource-api
    log_stream_name_prefix: ecs/outsource-api/
    limit: 20
  register: container_logs

- name: Say so when the log group is not there yet
  ansible.builtin.debug:
    msg: The log group does not exist yet; the task may not have started.
  when: not container_logs.log_group_exists
"""

RETURN = r"""
log_group_exists:
  description: Whether the log group exists. When V(false), RV(events) and RV(lines) are empty.
  returned: always
  type: bool
  sample: true
log_streams:
  description: Names of the log streams that were read.
  returned: always
  type: list
  elements: str
  sample:
    - ecs/outsource-api/0b2f6c1e9d2a4f4e8d1c3b5a7e9f1a2b
events:
  description: The log events, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    timestamp:
      description: Time of the event, in milliseconds since 1970-01-01 UTC.
      returned: always
      type: int
      sample: 1796315183311
    message:
      description: The log message.
      returned: always
      type: str
      sample: "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"
    log_stream_name:
      description: The stream the event belongs to.
      returned: always
      type: str
      sample: ecs/outsource-api/0b2f6c1e9d2a4f4e8d1c3b5a7e9f1a2b
    ingestion_time:
      description: When CloudWatch Logs received the event, in milliseconds since 1970-01-01 UTC.
      returned: always
      type: int
      sample: 1796315183420
lines:
  description: The messages of RV(events) alone, in the same order, without a trailing line break.
  returned: always
  type: list
  elements: str
  sample:
    - "INFO:     Started server process [1]"
    - "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"
"""

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.outsource.deploy.plugins.module_utils.logs import event_lines, read_log_events


def main():
    argument_spec = dict(
        log_group_name=dict(type="str", required=True),
        log_stream_name=dict(type="str"),
        log_stream_name_prefix=dict(type="str"),
        limit=dict(type="int", default=50),
        start_from_head=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("log_stream_name", "log_stream_name_prefix")],
        supports_check_mode=True,
    )
    params = module.params
    if not 1 <= params["limit"] <= 10000:
        module.fail_json(msg=f"limit must be between 1 and 10000, got {params['limit']}.")

    client = module.client("logs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = read_log_events(
            client,
            params["log_group_name"],
            log_stream_name=params["log_stream_name"],
            log_stream_name_prefix=params["log_stream_name_prefix"],
            limit=params["limit"],
            start_from_head=params["start_from_head"],
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(
            e,
            msg=f"Could not read the log events of log group '{params['log_group_name']}'. Check the AWS "
            "credentials and region, and that they allow logs:DescribeLogGroups, logs:DescribeLogStreams and "
            "logs:GetLogEvents",
        )

    module.exit_json(changed=False, lines=event_lines(result["events"]), **result)


if __name__ == "__main__":
    main()
