# -*- coding: utf-8 -*-

# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read CloudWatch Logs events for outsource.deploy modules.

All functions take a logs client created with
``module.client("logs", retry_decorator=AWSRetry.jittered_backoff())`` and call it with
``aws_retry=True``. botocore errors other than the expected "not found" cases are
raised to the caller, which turns them into a failure message.
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

# get_log_events returns at most 10,000 events per call.
MAX_EVENTS_PER_CALL = 10000
# Without a stream name, read at most this many of the newest streams.
MAX_STREAMS = 50
# describe_log_streams page size (the API maximum).
STREAMS_PAGE_SIZE = 50


def log_group_exists(client, log_group_name):
    """True when the log group exists (exact name match)."""
    params = {"logGroupNamePrefix": log_group_name}
    while True:
        response = client.describe_log_groups(aws_retry=True, **params)
        for group in response.get("logGroups", []):
            if group.get("logGroupName") == log_group_name:
                return True
        token = response.get("nextToken")
        if not token:
            return False
        params["nextToken"] = token


def _event_to_result(event, log_stream_name):
    return {
        "timestamp": event.get("timestamp"),
        "message": event.get("message", ""),
        "log_stream_name": log_stream_name,
        "ingestion_time": event.get("ingestionTime"),
    }


def read_stream_events(client, log_group_name, log_stream_name, limit, start_from_head=False):
    """Return up to ``limit`` events of one stream, oldest first.

    With ``start_from_head`` the first ``limit`` events of the stream, otherwise the last ``limit``.
    Raises botocore ClientError ResourceNotFoundException when the group or the stream is missing.
    """
    if limit <= 0:
        return []
    collected = []
    token = None
    while len(collected) < limit:
        params = {
            "logGroupName": log_group_name,
            "logStreamName": log_stream_name,
            "startFromHead": bool(start_from_head),
            "limit": min(limit - len(collected), MAX_EVENTS_PER_CALL),
        }
        if token:
            params["nextToken"] = token
        response = client.get_log_events(aws_retry=True, **params)
        page = [_event_to_result(e, log_stream_name) for e in response.get("events", [])]
        if start_from_head:
            collected.extend(page)
            next_token = response.get("nextForwardToken")
        else:
            # Reading backwards: each page is older than what we already have.
            collected = page + collected
            next_token = response.get("nextBackwardToken")
        # The API returns the token it was given once the end of the stream is reached.
        if not page or not next_token or next_token == token:
            break
        token = next_token
    if start_from_head:
        return collected[:limit]
    return collected[-limit:]


def _stream_sort_key(stream):
    # lastEventTimestamp is updated eventually; lastIngestionTime and creationTime are fallbacks.
    return max(
        stream.get("lastEventTimestamp") or 0,
        stream.get("lastIngestionTime") or 0,
        stream.get("creationTime") or 0,
    )


def newest_streams(client, log_group_name, log_stream_name_prefix=None, max_streams=MAX_STREAMS):
    """Return up to ``max_streams`` streams of the group, newest (by last event) first.

    Raises botocore ClientError ResourceNotFoundException when the group is missing.
    """
    streams = []
    params = {"logGroupName": log_group_name, "limit": STREAMS_PAGE_SIZE}
    if log_stream_name_prefix:
        # The API cannot order by event time and filter by prefix at once: list them all, sort here.
        params["logStreamNamePrefix"] = log_stream_name_prefix
        params["orderBy"] = "LogStreamName"
        enough = None
    else:
        params["orderBy"] = "LastEventTime"
        params["descending"] = True
        enough = max_streams
    while enough is None or len(streams) < enough:
        response = client.describe_log_streams(aws_retry=True, **params)
        streams.extend(response.get("logStreams", []))
        token = response.get("nextToken")
        if not token:
            break
        params["nextToken"] = token
    streams.sort(key=_stream_sort_key, reverse=True)
    return streams[:max_streams]


def _sort_events(events):
    return sorted(events, key=lambda e: (e.get("timestamp") or 0, e.get("ingestion_time") or 0))


def read_log_events(
    client,
    log_group_name,
    log_stream_name=None,
    log_stream_name_prefix=None,
    limit=50,
    start_from_head=False,
    max_streams=MAX_STREAMS,
):
    """Read log events for a module result.

    Returns a dict with
      - ``log_group_exists``: False when the group does not exist (then nothing else is read),
      - ``log_streams``: the names of the streams that were read,
      - ``events``: list of {timestamp, message, log_stream_name, ingestion_time}, oldest first.

    With ``log_stream_name`` the events of that stream (a missing stream gives no events).
    Without it, and ``start_from_head`` false: the last ``limit`` events over the newest streams.
    Without it, and ``start_from_head`` true: the first ``limit`` events of the newest stream.
    """
    result = {"log_group_exists": True, "log_streams": [], "events": []}
    if not log_group_exists(client, log_group_name):
        result["log_group_exists"] = False
        return result

    if log_stream_name:
        try:
            events = read_stream_events(client, log_group_name, log_stream_name, limit, start_from_head)
        except is_boto3_error_code("ResourceNotFoundException"):
            return result
        result["log_streams"] = [log_stream_name]
        result["events"] = events
        return result

    try:
        streams = newest_streams(client, log_group_name, log_stream_name_prefix, max_streams)
    except is_boto3_error_code("ResourceNotFoundException"):
        # The group was deleted between the two calls.
        result["log_group_exists"] = False
        return result

    if start_from_head:
        streams = streams[:1]

    collected = []
    for stream in streams:
        name = stream["logStreamName"]
        if not start_from_head and len(collected) >= limit:
            # Nothing in this or any older stream can be newer than the limit-th newest event we have.
            threshold = _sort_events(collected)[-limit].get("timestamp") or 0
            if _stream_sort_key(stream) < threshold:
                break
        try:
            events = read_stream_events(client, log_group_name, name, limit, start_from_head)
        except is_boto3_error_code("ResourceNotFoundException"):
            continue  # deleted meanwhile
        result["log_streams"].append(name)
        collected.extend(events)

    collected = _sort_events(collected)
    result["events"] = collected[:limit] if start_from_head else collected[-limit:]
    return result


def event_lines(events):
    """The messages of ``events`` without their trailing line break."""
    return [(e.get("message") or "").rstrip("\r\n") for e in events]
