# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""module_utils/logs.py with a small in-memory logs client (exact control over stream metadata)."""

import pytest
from ansible_collections.outsource.deploy.plugins.module_utils import logs
from botocore.exceptions import ClientError


def not_found(operation):
    return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, operation)


class StubLogs:
    """Streams: {name: [(timestamp, message)]}; pages of get_log_events hold ``page`` events."""

    def __init__(self, streams, group="/g", page=10000, last_event=None):
        self.group = group
        self.streams = streams
        self.page = page
        self.last_event = last_event or {}
        self.read = []

    def describe_log_groups(self, aws_retry=False, logGroupNamePrefix="", nextToken=None):
        assert aws_retry is True
        return {"logGroups": [{"logGroupName": self.group}] if self.group.startswith(logGroupNamePrefix) else []}

    def describe_log_streams(self, aws_retry=False, logGroupName=None, nextToken=None, **params):
        assert aws_retry is True
        if logGroupName != self.group:
            raise not_found("DescribeLogStreams")
        prefix = params.get("logStreamNamePrefix", "")
        found = [
            {
                "logStreamName": name,
                "creationTime": 1,
                "lastEventTimestamp": self.last_event.get(name, max(t for t, _ in events)),
            }
            for name, events in self.streams.items()
            if name.startswith(prefix)
        ]
        if params.get("orderBy") == "LastEventTime":
            found.sort(key=lambda s: s["lastEventTimestamp"], reverse=params.get("descending", False))
        else:
            found.sort(key=lambda s: s["logStreamName"])
        start = int(nextToken or 0)
        limit = params.get("limit", 50)
        response = {"logStreams": found[start : start + limit]}
        if start + limit < len(found):
            response["nextToken"] = str(start + limit)
        return response

    def get_log_events(self, aws_retry=False, logGroupName=None, logStreamName=None, **params):
        assert aws_retry is True
        if logGroupName != self.group or logStreamName not in self.streams:
            raise not_found("GetLogEvents")
        self.read.append(logStreamName)
        events = sorted(self.streams[logStreamName])
        limit = min(params["limit"], self.page)
        token = params.get("nextToken")
        if params["startFromHead"]:
            start = int(token[2:]) if token else 0
            chunk = events[start : start + limit]
            forward, backward = f"f/{start + len(chunk)}", f"b/{start}"
        else:
            end = int(token[2:]) if token else len(events)
            start = max(0, end - limit)
            chunk = events[start:end]
            forward, backward = f"f/{end}", f"b/{start}"
        return {
            "events": [{"timestamp": t, "message": m, "ingestionTime": t + 1} for t, m in chunk],
            "nextForwardToken": forward,
            "nextBackwardToken": backward,
        }


def test_newest_stream_first_and_older_streams_are_skipped_once_enough():
    client = StubLogs(
        {
            "old": [(1, "o1"), (2, "o2")],
            "mid": [(10, "m1"), (11, "m2")],
            "new": [(20, "n1"), (21, "n2"), (22, "n3")],
        }
    )

    result = logs.read_log_events(client, "/g", limit=3)

    assert [e["message"] for e in result["events"]] == ["n1", "n2", "n3"]
    # "mid" and "old" end before the 3rd newest event: not read at all.
    assert client.read == ["new"]
    assert result["log_streams"] == ["new"]


def test_overlapping_streams_are_merged_by_time():
    client = StubLogs({"x": [(1, "x1"), (5, "x5"), (9, "x9")], "y": [(2, "y2"), (6, "y6"), (8, "y8")]})

    result = logs.read_log_events(client, "/g", limit=4)

    assert [e["message"] for e in result["events"]] == ["x5", "y6", "y8", "x9"]
    assert sorted(set(client.read)) == ["x", "y"]


def test_max_streams_caps_how_many_streams_are_read():
    client = StubLogs({f"s{i}": [(i, f"m{i}")] for i in range(10)})

    result = logs.read_log_events(client, "/g", limit=100, max_streams=3)

    assert [e["message"] for e in result["events"]] == ["m7", "m8", "m9"]


def test_stream_pages_are_followed_backwards_and_forwards():
    client = StubLogs({"s": [(i, str(i)) for i in range(10)]}, page=3)

    assert [e["message"] for e in logs.read_stream_events(client, "/g", "s", 7)] == [str(i) for i in range(3, 10)]
    assert [e["message"] for e in logs.read_stream_events(client, "/g", "s", 7, True)] == [str(i) for i in range(7)]
    assert len(logs.read_stream_events(client, "/g", "s", 50)) == 10


def test_stream_names_paginate_and_prefix_sorts_locally(monkeypatch):
    monkeypatch.setattr(logs, "STREAMS_PAGE_SIZE", 2)
    client = StubLogs({f"ecs/api/{i}": [(i, str(i))] for i in range(5)} | {"other": [(99, "other")]})

    result = logs.read_log_events(client, "/g", log_stream_name_prefix="ecs/api/", limit=10)

    assert [e["message"] for e in result["events"]] == ["0", "1", "2", "3", "4"]


def test_missing_group_and_stream():
    client = StubLogs({"s": [(1, "a")]})

    assert logs.read_log_events(client, "/nope") == {"log_group_exists": False, "log_streams": [], "events": []}
    assert logs.read_log_events(client, "/g", log_stream_name="nope") == {
        "log_group_exists": True,
        "log_streams": [],
        "events": [],
    }
    with pytest.raises(ClientError):
        logs.read_stream_events(client, "/g", "nope", 5)


def test_event_lines_strip_only_the_line_break():
    assert logs.event_lines([{"message": "  indented\r\n"}, {"message": "x\n"}, {"message": None}]) == [
        "  indented",
        "x",
        "",
    ]
