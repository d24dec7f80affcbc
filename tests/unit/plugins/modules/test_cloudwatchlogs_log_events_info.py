# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

import time

import boto3
import pytest
from ansible_collections.outsource.deploy.plugins.module_utils import logs as logs_utils
from ansible_collections.outsource.deploy.plugins.modules import cloudwatchlogs_log_events_info as logs_module
from moto import mock_aws

GROUP = "/ecs/outsource-api"


@pytest.fixture
def logs():
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        client.create_log_group(logGroupName=GROUP)
        yield client


BASE = int(time.time() * 1000) - 600_000


def put(client, stream, events):
    """events: [(offset ms, message)]"""
    client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    client.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": BASE + offset, "message": message} for offset, message in events],
    )


@pytest.fixture
def three_streams(logs):
    # Interleaved in time over three task streams.
    put(logs, "ecs/api/task-a", [(0, "a0"), (30, "a1"), (60, "a2")])
    put(logs, "ecs/api/task-b", [(10, "b0"), (40, "b1"), (70, "b2\n")])
    put(logs, "other/worker/task-c", [(20, "c0"), (50, "c1"), (80, "c2")])
    return logs


def test_last_events_across_streams(three_streams, run_module):
    result = run_module(logs_module, {"log_group_name": GROUP, "limit": 4})

    assert result["failed"] is False
    assert result["changed"] is False
    assert result["log_group_exists"] is True
    assert result["lines"] == ["c1", "a2", "b2", "c2"]
    assert [e["message"] for e in result["events"]] == ["c1", "a2", "b2\n", "c2"]
    assert [e["log_stream_name"] for e in result["events"]] == [
        "other/worker/task-c",
        "ecs/api/task-a",
        "ecs/api/task-b",
        "other/worker/task-c",
    ]
    assert [e["timestamp"] for e in result["events"]] == [BASE + 50, BASE + 60, BASE + 70, BASE + 80]
    assert all(isinstance(e["ingestion_time"], int) for e in result["events"])
    assert sorted(result["log_streams"]) == ["ecs/api/task-a", "ecs/api/task-b", "other/worker/task-c"]


def test_prefix_limits_the_streams(three_streams, run_module):
    result = run_module(logs_module, {"log_group_name": GROUP, "log_stream_name_prefix": "ecs/api/", "limit": 3})

    assert result["lines"] == ["b1", "a2", "b2"]
    assert sorted(result["log_streams"]) == ["ecs/api/task-a", "ecs/api/task-b"]


def test_one_stream_last_and_first_events(three_streams, run_module):
    last = run_module(logs_module, {"log_group_name": GROUP, "log_stream_name": "ecs/api/task-a", "limit": 2})
    first = run_module(
        logs_module,
        {"log_group_name": GROUP, "log_stream_name": "ecs/api/task-a", "limit": 2, "start_from_head": True},
    )

    assert last["lines"] == ["a1", "a2"]
    assert first["lines"] == ["a0", "a1"]
    assert first["log_streams"] == ["ecs/api/task-a"]


def test_start_from_head_without_stream_reads_the_newest_stream(three_streams, run_module):
    result = run_module(logs_module, {"log_group_name": GROUP, "start_from_head": True, "limit": 2})

    assert len(result["log_streams"]) == 1
    assert len(result["lines"]) == 2
    stream = result["log_streams"][0]
    assert {e["log_stream_name"] for e in result["events"]} == {stream}
    assert result["lines"][0].endswith("0")


def test_missing_log_group_is_not_an_error(logs, run_module):
    result = run_module(logs_module, {"log_group_name": "/ecs/not-there-yet"})

    assert result["failed"] is False
    assert result["log_group_exists"] is False
    assert result["events"] == []
    assert result["lines"] == []
    assert result["log_streams"] == []


def test_missing_stream_gives_no_events(logs, run_module):
    result = run_module(logs_module, {"log_group_name": GROUP, "log_stream_name": "ecs/api/nope"})

    assert result["failed"] is False
    assert result["log_group_exists"] is True
    assert result["events"] == []
    assert result["log_streams"] == []


def test_group_name_prefix_of_another_group_does_not_count(logs, run_module):
    result = run_module(logs_module, {"log_group_name": "/ecs/outsource"})

    assert result["log_group_exists"] is False


def test_reading_a_stream_over_several_pages(logs, run_module, monkeypatch):
    put(logs, "ecs/api/long", [(i, f"line {i}") for i in range(7)])
    monkeypatch.setattr(logs_utils, "MAX_EVENTS_PER_CALL", 2)

    last = run_module(logs_module, {"log_group_name": GROUP, "log_stream_name": "ecs/api/long", "limit": 5})
    first = run_module(
        logs_module,
        {"log_group_name": GROUP, "log_stream_name": "ecs/api/long", "limit": 5, "start_from_head": True},
    )
    everything = run_module(logs_module, {"log_group_name": GROUP, "log_stream_name": "ecs/api/long", "limit": 100})

    assert last["lines"] == [f"line {i}" for i in range(2, 7)]
    assert first["lines"] == [f"line {i}" for i in range(0, 5)]
    assert everything["lines"] == [f"line {i}" for i in range(7)]


@pytest.mark.parametrize(
    "bad, expected",
    [
        ({"limit": 0}, "limit must be between 1 and 10000"),
        ({"log_stream_name": "a", "log_stream_name_prefix": "b"}, "mutually exclusive"),
    ],
)
def test_bad_options(run_module, bad, expected):
    result = run_module(logs_module, dict(log_group_name=GROUP, **bad))

    assert result["failed"] is True
    assert expected in result["msg"]
