#!/usr/bin/env python3
"""Benchmark the deployment against the local cloud: time, tasks, changes and AWS requests.

    make bench                                   (or: .venv/bin/python tools/bench/bench.py)

One run resets the local cloud (`local_cloud.py down`, then `up`) and measures, in order:

    full        the full deployment, first run            site.yml
    noop        a rerun that should change nothing        site.yml
    redeploy    a redeploy with a code change             site.yml --tags redeploy (APP_VERSION changed)
    redeploy0   the same redeploy again, without change   site.yml --tags redeploy
    teardown    delete everything                         playbooks/teardown.yml -e confirm=true

For each: wall time, tasks that ran, changed tasks, and the AWS API requests that reached the
endpoint, by service and operation. AWS requests are counted by a small reverse proxy in front
of the local cloud's endpoint (the playbooks get `-e outsource_aws_endpoint_url=<proxy>`); the
image registry (docker push) still talks to 127.0.0.1:4566 directly, so it is
not counted. Per-task times come from the ansible.posix.json stdout callback. The table, the
ratios against the speed targets, the RDS overlap window and the repeated requests are printed;
everything is written to .outsource/bench.json, the playbook outputs to .outsource/bench/.
See tools/bench/README.md for how to read the output.

Standard library only; run it with the project virtualenv's Python (it starts that venv's
ansible-playbook).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[2]
LOCAL_CLOUD = ROOT / "tools" / "local_cloud" / "local_cloud.py"
UPSTREAM_PORT = int(os.environ.get("LOCAL_CLOUD_PORT", "4566"))
UPSTREAM_HOST = "127.0.0.1"
OUT_JSON = ROOT / ".outsource" / "bench.json"
OUT_DIR = ROOT / ".outsource" / "bench"
SAMPLE_BACKEND = ROOT / "examples" / "outsource-backend"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "LOCALCLOUDACCESSKEY",
    "AWS_SECRET_ACCESS_KEY": "local-cloud-dummy-secret-0000",
    "AWS_REGION": "us-east-1",
}
# Speed targets: scenario wall time as a fraction of the first full run.
TARGETS = [
    ("noop", "no-op rerun / full", 0.50),
    ("redeploy0", "redeploy without change / full", 0.15),
    ("redeploy", "redeploy with a change / full", 0.35),
]
# The same request again from the same task after this pause (seconds) is a poll.
POLL_GAP = 0.9
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the counting proxy


def classify(method: str, path: str, headers, body: bytes) -> tuple[str, str]:
    """(service, operation) of one request, as AWS names them (ecs DescribeServices, ec2 DescribeVpcs)."""
    auth = headers.get("Authorization", "") or ""
    scope = re.search(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request", auth)
    service = scope.group(1) if scope else ""
    target = headers.get("X-Amz-Target", "") or ""
    if target:
        # JSON protocols (ECS, ECR, CloudWatch Logs): "AmazonEC2ContainerServiceV20141113.DescribeServices".
        prefix, _, operation = target.rpartition(".")
        return service or prefix or "?", operation
    # Query protocols (EC2, RDS, IAM, STS): Action= in the query string or the form body.
    params = parse_qs(urlsplit(path).query)
    if "Action" not in params and body and b"Action=" in body[:4096]:
        try:
            params = parse_qs(body.decode("utf-8", "replace"))
        except ValueError:
            params = {}
    action = (params.get("Action") or [""])[0]
    if action:
        return service or "?", action
    # Anything else (REST protocols, health checks): the method and the path without ids.
    return service or "(not AWS)", f"{method} {urlsplit(path).path}"


@dataclass
class Request:
    start: float
    end: float
    service: str
    operation: str
    status: int
    signature: str


class CountingProxy:
    """A threaded HTTP reverse proxy that records every request it forwards."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._records: list[Request] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def _forward(self):
                start = time.time()
                body = self._read_body()
                service, operation = classify(self.command, self.path, self.headers, body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body or "content-length" in (k.lower() for k in headers):
                    headers["Content-Length"] = str(len(body))
                status, reason, resp_headers, data = proxy._upstream(self.command, self.path, headers, body)
                self.send_response(status, reason)
                for key, value in resp_headers:
                    if key.lower() not in HOP_BY_HOP | {"content-length", "server", "date"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                # JSON protocols carry the operation in a header, not in the body.
                what = f"{service} {operation} {self.command} {self.path}\n".encode()
                signature = hashlib.sha256(what + body).hexdigest()[:16]
                proxy._record(Request(start, time.time(), service, operation, status, signature))

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding", "") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-proxy", daemon=True)
        self._local = threading.local()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _upstream(self, method, path, headers, body):
        # One keep-alive connection per handler thread; one retry on a stale connection.
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(*self.upstream, timeout=600)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.reason, resp.getheaders(), data
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    message = f"bench proxy: upstream {self.upstream[0]}:{self.upstream[1]} failed: {exc}".encode()
                    return 502, "Bad Gateway", [("Content-Type", "text/plain")], message
        raise AssertionError("unreachable")

    def _record(self, request: Request) -> None:
        with self._lock:
            self._records.append(request)

    def take(self) -> list[Request]:
        """The requests recorded since the last call, oldest first."""
        with self._lock:
            records, self._records = self._records, []
        return sorted(records, key=lambda r: r.start)


# --------------------------------------------------------------------------- ansible output


@dataclass
class Task:
    name: str
    path: str
    start: float
    end: float
    status: str  # changed, ok, skipped, failed
    attempts: int = 1
    msg: str = ""

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.rstrip("Z")).replace(tzinfo=UTC).timestamp()


def parse_ansible_json(text: str) -> tuple[list[Task], dict]:
    """Tasks (with start/end times and status) and the recap of an ansible.posix.json run."""
    # The JSON is one line (ANSIBLE_JSON_INDENT=0); profile_tasks (ansible.cfg) prints lines around it.
    doc = {}
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            break
    tasks: list[Task] = []
    for play in doc.get("plays", []):
        for entry in play.get("tasks", []):
            info = entry.get("task", {})
            duration = info.get("duration", {})
            t_start = parse_time(duration["start"]) if duration.get("start") else 0.0
            t_end = parse_time(duration["end"]) if duration.get("end") else t_start
            results = list(entry.get("hosts", {}).values())
            status, attempts, msg = "skipped", 1, ""
            for result in results:
                attempts = max(attempts, int(result.get("attempts", 1) or 1))
                if result.get("failed") and not result.get("ignore_errors"):
                    status, msg = "failed", str(result.get("msg", ""))
                elif result.get("skipped"):
                    continue
                elif result.get("changed") and status != "failed":
                    status = "changed"
                elif status == "skipped":
                    status = "ok"
            if not results:
                status = "none"
            tasks.append(Task(info.get("name", "?"), info.get("path", ""), t_start, t_end, status, attempts, msg))
    stats = {}
    for host_stats in doc.get("stats", {}).values():
        for key, value in host_stats.items():
            stats[key] = stats.get(key, 0) + value
    return tasks, stats


def task_of(request: Request, tasks: list[Task]) -> Task | None:
    """The task that was running when the request was sent (the linear strategy runs one at a time)."""
    for task in tasks:
        if task.start - 0.05 <= request.start <= task.end + 0.05:
            return task
    return None


# --------------------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    key: str
    label: str
    playbook: str
    args: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    scenario: Scenario
    rc: int | None = None
    wall: float = 0.0
    tasks: list[Task] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    note: str = ""
    started: float = 0.0

    @property
    def ran(self) -> bool:
        return self.rc is not None

    @property
    def task_count(self) -> int:
        # The recap's ok already includes the changed tasks.
        return self.stats.get("ok", 0) + self.stats.get("failures", 0)

    @property
    def changed(self) -> int:
        return self.stats.get("changed", 0)

    @property
    def aws_requests(self) -> list[Request]:
        return [r for r in self.requests if r.service != "(not AWS)"]


def scenarios(backend_copy: Path | None, quick: bool) -> list[Scenario]:
    if quick:
        tags = ["--tags", "preflight,network"]
        return [
            Scenario("first", "preflight+network (first)", "site.yml", tags),
            Scenario("rerun", "preflight+network (rerun)", "site.yml", tags),
        ]
    redeploy = ["--tags", "redeploy", "-e", f"outsource_backend_dir={backend_copy}"]
    return [
        Scenario("full", "full deployment (first run)", "site.yml"),
        Scenario("noop", "no-op rerun", "site.yml"),
        Scenario("redeploy", "redeploy with a code change", "site.yml", redeploy),
        Scenario("redeploy0", "redeploy without change", "site.yml", redeploy),
        Scenario("teardown", "teardown", "playbooks/teardown.yml", ["-e", "confirm=true"]),
    ]


def make_backend_copy(workdir: Path) -> Path:
    """The sample backend with a new APP_VERSION: a code change the content tag notices."""
    copy = workdir / "outsource-backend"
    shutil.copytree(SAMPLE_BACKEND, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    main_py = copy / "app" / "main.py"
    text = main_py.read_text()
    version = f"1.0.0+bench.{int(time.time())}"
    new_text, count = re.subn(r'^APP_VERSION = ".*"$', f'APP_VERSION = "{version}"', text, count=1, flags=re.M)
    if count != 1:
        raise SystemExit(f"bench: no APP_VERSION line in {main_py}; cannot make the code change")
    main_py.write_text(new_text)
    return copy


def docker_host() -> str:
    result = subprocess.run([sys.executable, str(LOCAL_CLOUD), "env"], capture_output=True, text=True, check=False)
    match = re.search(r"^export DOCKER_HOST=(\S+)", result.stdout, re.M)
    return match.group(1) if match else os.environ.get("DOCKER_HOST", "")


def playbook_env() -> dict:
    env = dict(os.environ)
    env.update(AWS_ENV)
    env.update(
        DOCKER_HOST=docker_host(),
        DOCKER_BUILDKIT="0",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_JSON_INDENT="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("AWS_PROFILE", None)
    return env


def run_scenario(scenario: Scenario, proxy: CountingProxy, env: dict) -> Outcome:
    outcome = Outcome(scenario)
    playbook = ROOT / scenario.playbook
    if not playbook.exists():
        outcome.note = f"skipped: {scenario.playbook} does not exist"
        say(outcome.note)
        return outcome
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        "inventory/local",
        scenario.playbook,
        "-e",
        f"outsource_aws_endpoint_url={proxy.url}",
        # Keep the user's .outsource/deploy.json: the bench's summary goes beside its outputs.
        "-e",
        f"outsource_summary_file={OUT_DIR / 'deploy.json'}",
        *scenario.args,
    ]
    say(f"{scenario.label}: {' '.join(cmd[1:])}")
    proxy.take()
    outcome.started = time.time()
    t0 = time.monotonic()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    outcome.wall = time.monotonic() - t0
    outcome.requests = proxy.take()
    outcome.rc = result.returncode
    (OUT_DIR / f"{scenario.key}.json").write_text(result.stdout)
    (OUT_DIR / f"{scenario.key}.stderr.log").write_text(result.stderr)
    outcome.tasks, outcome.stats = parse_ansible_json(result.stdout)
    if result.returncode != 0:
        failed = [t for t in outcome.tasks if t.status == "failed"]
        cause = f"{failed[-1].name}: {failed[-1].msg}" if failed else result.stderr.strip()[-1500:]
        outcome.note = f"FAILED (rc {result.returncode}): {cause}"
        say(f"{scenario.label}: {outcome.note}")
        say(f"  outputs: {OUT_DIR / (scenario.key + '.json')} and {scenario.key}.stderr.log")
    else:
        say(
            f"{scenario.label}: {outcome.wall:.1f} s, {outcome.task_count} tasks, changed={outcome.changed}, "
            f"{len(outcome.aws_requests)} AWS requests"
        )
    return outcome


# --------------------------------------------------------------------------- analysis


def op_name(request: Request) -> str:
    return f"{request.service} {request.operation}"


READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Head", "GET ", "HEAD ")


def is_read(request: Request) -> bool:
    return request.operation.startswith(READ_PREFIXES)


def short_task(task: Task | None) -> str:
    if task is None:
        return "(between tasks)"
    return task.name.removeprefix("outsource.deploy.")


def repeats(outcome: Outcome) -> list[dict]:
    """Operations called more than once in one scenario, and why each identical call came again.

    A call is identical to an earlier one when method, path and body are the same. A repeated
    identical call is
      poll      the same task sent it again after a pause of POLL_GAP s or more, or the task
                retried (until/retries): waiting for a state to change;
      changed   a write (any operation that is not Describe/List/Get...) went to AWS in between,
                so the answer may differ: a read after a change;
      needless  otherwise: the same question again with nothing changed in between.
    A needless call also counts as "within_task" when the same task asked the first time too: a
    module that asks twice inside one call (a collection module's own repeat), as opposed to a
    task that asks again what an earlier task already asked (the playbook's repeat).
    """
    calls = outcome.aws_requests
    tasks = [task_of(r, outcome.tasks) for r in calls]
    last_seen: dict[str, int] = {}
    kinds: list[str] = []
    within_task: set[int] = set()
    for i, request in enumerate(calls):
        prev = last_seen.get(request.signature)
        last_seen[request.signature] = i
        if prev is None:
            kinds.append("first")
        elif (
            tasks[i] is not None
            and tasks[i] is tasks[prev]
            and (tasks[i].attempts > 1 or request.start - calls[prev].end >= POLL_GAP)
        ):
            kinds.append("poll")
        elif any(not is_read(calls[j]) for j in range(prev + 1, i)):
            kinds.append("changed")
        else:
            kinds.append("needless")
            if tasks[i] is not None and tasks[i] is tasks[prev]:
                within_task.add(i)
    by_op: dict[str, list[int]] = defaultdict(list)
    for i, request in enumerate(calls):
        by_op[op_name(request)].append(i)
    found = []
    for name, indexes in by_op.items():
        if len(indexes) < 2:
            continue
        per_task: dict[str, Counter] = defaultdict(Counter)
        for i in indexes:
            per_task[short_task(tasks[i])][kinds[i]] += 1
        kind_counts = Counter(kinds[i] for i in indexes)
        found.append(
            {
                "operation": name,
                "calls": len(indexes),
                "identical": len(indexes) - kind_counts["first"],
                "poll": kind_counts["poll"],
                "changed": kind_counts["changed"],
                "needless": kind_counts["needless"],
                "needless_within_task": sum(1 for i in indexes if i in within_task),
                "tasks": [
                    {"task": label, "calls": sum(c.values()), **{k: c[k] for k in ("poll", "changed", "needless")}}
                    for label, c in sorted(per_task.items(), key=lambda kv: -sum(kv[1].values()))
                ],
            }
        )
    found.sort(key=lambda r: (-r["needless"], -r["calls"], r["operation"]))
    return found


def overlap(outcome: Outcome) -> dict | None:
    """Seconds of work between the end of `rds start` and the start of `rds wait` (RDS creating meanwhile)."""
    starts = [
        t for t in outcome.tasks if re.search(r"roles/rds/tasks/(start|validate|subnet_group|instance)\.yml", t.path)
    ]
    waits = [t for t in outcome.tasks if re.search(r"roles/rds/tasks/wait\.yml", t.path)]
    if not starts or not waits:
        return None
    last_start, first_wait = starts[-1], waits[0]
    between = [t for t in outcome.tasks if last_start.end <= t.start and t.end <= first_wait.start]
    poll = [t for t in waits if t.attempts > 1 or "Wait for the RDS instance" in t.name]
    creating = [t for t in outcome.tasks if "Create the RDS instance" in t.name and t.status == "changed"]
    return {
        "seconds": round(first_wait.start - last_start.end, 2),
        "after_task": short_task(last_start),
        "before_task": short_task(first_wait),
        "tasks_between": len([t for t in between if t.status != "skipped"]),
        "rds_created_in_this_run": bool(creating),
        "rds_wait_seconds": round(sum(t.duration for t in poll if t.status != "skipped"), 2),
        "rds_wait_attempts": max((t.attempts for t in poll if t.status != "skipped"), default=0),
    }


def role_of(task: Task) -> str:
    name = task.name.removeprefix("outsource.deploy.")
    return name.split(" : ", 1)[0] if " : " in name else "(play)"


def seconds_by_role(outcome: Outcome) -> dict[str, float]:
    """Seconds of the run: Ansible's start-up (to the first task), each role's tasks in run order, and the rest
    (between tasks: templating the next task and its conditions, and the end of the run)."""
    if not outcome.tasks:
        return {}
    times = {"startup": outcome.tasks[0].start - outcome.started}
    for task in outcome.tasks:
        times[role_of(task)] = times.get(role_of(task), 0.0) + task.duration
    times["between tasks"] = max(0.0, outcome.wall - sum(times.values()))
    return {k: round(v, 2) for k, v in times.items()}


def slowest(outcome: Outcome, n: int = 5) -> list[Task]:
    return sorted((t for t in outcome.tasks if t.status != "skipped"), key=lambda t: -t.duration)[:n]


def outcome_json(outcome: Outcome) -> dict:
    ops = Counter(op_name(r) for r in outcome.aws_requests)
    services = Counter(r.service for r in outcome.aws_requests)
    per_task: dict[str, Counter] = defaultdict(Counter)
    for request in outcome.aws_requests:
        task = task_of(request, outcome.tasks)
        per_task[task.name if task else "(between tasks)"][op_name(request)] += 1
    return {
        "key": outcome.scenario.key,
        "label": outcome.scenario.label,
        "command": ["ansible-playbook", "-i", "inventory/local", outcome.scenario.playbook, *outcome.scenario.args],
        "ran": outcome.ran,
        "rc": outcome.rc,
        "note": outcome.note,
        "wall_seconds": round(outcome.wall, 2),
        "tasks": outcome.task_count,
        "changed": outcome.changed,
        "recap": outcome.stats,
        "aws_requests": len(outcome.aws_requests),
        "seconds_by_role": seconds_by_role(outcome),
        "aws_request_seconds": round(sum(r.end - r.start for r in outcome.aws_requests), 3),
        "aws_requests_by_service": dict(services.most_common()),
        "aws_requests_by_operation": dict(sorted(ops.items())),
        "aws_requests_by_task": {k: dict(v) for k, v in per_task.items()},
        "aws_errors": Counter(op_name(r) for r in outcome.aws_requests if r.status >= 400),
        "other_requests": dict(Counter(op_name(r) for r in outcome.requests if r.service == "(not AWS)")),
        "repeats": repeats(outcome),
        "overlap": overlap(outcome),
        "requests": [
            {
                "at": round(r.start - outcome.started, 3),
                "ms": round((r.end - r.start) * 1000, 1),
                "operation": op_name(r),
                "status": r.status,
                "task": short_task(task_of(r, outcome.tasks)),
            }
            for r in outcome.requests
        ],
        "task_times": [
            {
                "task": t.name,
                "path": t.path,
                "status": t.status,
                "seconds": round(t.duration, 3),
                "attempts": t.attempts,
            }
            for t in outcome.tasks
        ],
    }


# --------------------------------------------------------------------------- report


def ratio_rows(by_key: dict[str, Outcome]) -> list[dict]:
    full = by_key.get("full")
    rows = []
    for key, label, target in TARGETS:
        outcome = by_key.get(key)
        row = {"scenario": key, "label": label, "target": target, "ratio": None, "verdict": "n/a"}
        if full and full.rc == 0 and outcome and outcome.rc == 0 and full.wall > 0:
            row["ratio"] = round(outcome.wall / full.wall, 3)
            ok = row["ratio"] <= target and (key != "noop" or outcome.changed == 0)
            row["verdict"] = "PASS" if ok else "MISS"
            if key == "noop":
                row["changed"] = outcome.changed
        rows.append(row)
    return rows


def print_report(outcomes: list[Outcome], data: dict, quick: bool, top: int) -> None:
    out = []
    w = max(30, *(len(o.scenario.label) for o in outcomes))
    out.append("")
    out.append(f"{'scenario':<{w}}  {'wall s':>7}  {'tasks':>5}  {'changed':>7}  {'AWS requests':>12}  result")
    out.append(f"{'-' * w}  {'-' * 7}  {'-' * 5}  {'-' * 7}  {'-' * 12}  ------")
    for o in outcomes:
        if not o.ran:
            out.append(f"{o.scenario.label:<{w}}  {'-':>7}  {'-':>5}  {'-':>7}  {'-':>12}  {o.note or 'not run'}")
            continue
        result = "ok" if o.rc == 0 else f"FAILED rc={o.rc}"
        out.append(
            f"{o.scenario.label:<{w}}  {o.wall:>7.1f}  {o.task_count:>5}  {o.changed:>7}  "
            f"{len(o.aws_requests):>12}  {result}"
        )

    if not quick:
        out.append("")
        out.append(f"{'ratio (wall time)':<{w}}  {'value':>7}  target")
        for row in data["ratios"]:
            value = f"{row['ratio']:.3f}" if row["ratio"] is not None else "-"
            target = f"<= {row['target']:.2f}" + (", changed=0" if row["scenario"] == "noop" else "")
            extra = f" (changed={row['changed']})" if row.get("changed") else ""
            out.append(f"{row['label']:<{w}}  {value:>7}  {target:<22} {row['verdict']}{extra}")
        needless = data["needless_repeats_total"]
        within = data["needless_repeats_within_task"]
        verdict = "PASS" if needless == 0 else "MISS"
        out.append(
            f"{'needless repeated requests':<{w}}  {needless:>7}  {'0':<22} {verdict}"
            + (
                f" (listed below: {within} inside one task's module call, {needless - within} across tasks)"
                if needless
                else ""
            )
        )

        ov = data.get("overlap")
        out.append("")
        if ov:
            made = "RDS was created in this run" if ov["rds_created_in_this_run"] else "RDS already existed"
            out.append(
                f"overlap window (full run): {ov['seconds']:.1f} s of work while RDS was being created\n"
                f"  {ov['tasks_between']} tasks ran between '{ov['after_task']}' and '{ov['before_task']}'\n"
                f"  {made}; "
                + (
                    f"then {ov['rds_wait_seconds']:.1f} s waiting for RDS ({ov['rds_wait_attempts']} polls)"
                    if ov["rds_wait_attempts"]
                    else "RDS was available when the wait began (no poll)"
                )
            )
        else:
            out.append("overlap window (full run): not measured (the full run did not reach the rds wait tasks)")

    # AWS requests by service and operation: one row per operation, one column per scenario.
    ran = [o for o in outcomes if o.ran]
    ops = sorted({op_name(r) for o in ran for r in o.aws_requests})
    if ops:
        ow = max(24, *(len(op) for op in ops))
        out.append("")
        out.append("AWS requests by service and operation")
        out.append(f"{'service operation':<{ow}}" + "".join(f"  {o.scenario.key:>9}" for o in ran))
        counts = [Counter(op_name(r) for r in o.aws_requests) for o in ran]
        for op in ops:
            out.append(f"{op:<{ow}}" + "".join(f"  {c.get(op, 0) or '.':>9}" for c in counts))
        out.append(f"{'total':<{ow}}" + "".join(f"  {sum(c.values()):>9}" for c in counts))
        seconds = "  ".join(f"{o.scenario.key} {sum(r.end - r.start for r in o.aws_requests):.1f}" for o in ran)
        out.append(f"(seconds spent inside AWS requests: {seconds})")
        others = Counter(op_name(r) for o in ran for r in o.requests if r.service == "(not AWS)")
        if others:
            out.append(f"(also through the proxy, not AWS API: {dict(others)})")

    out.append("")
    out.append(f"repeated requests (top {top} operations per scenario)")
    out.append("  calls = all calls of the operation; identical = calls that repeat an earlier identical request:")
    out.append("  poll (waiting), changed (a write came in between) or needless (nothing changed in between)")
    for o in ran:
        reps = data["scenarios"][o.scenario.key]["repeats"]
        if not reps:
            out.append(f"  {o.scenario.key}: none")
            continue
        out.append(f"  {o.scenario.key}:")
        for rep in reps[:top]:
            out.append(
                f"    {rep['operation']:<36} calls {rep['calls']:>3}  identical {rep['identical']:>3}  "
                f"poll {rep['poll']:>3}  changed {rep['changed']:>3}  needless {rep['needless']:>3}"
            )
            for t in rep["tasks"][:3]:
                why = ", ".join(f"{k} {t[k]}" for k in ("poll", "changed", "needless") if t[k])
                out.append(f"        {t['calls']:>3} x {t['task']}" + (f" ({why})" if why else ""))
            if len(rep["tasks"]) > 3:
                out.append(f"        ... {len(rep['tasks']) - 3} more tasks")
        if len(reps) > top:
            out.append(f"    ... {len(reps) - top} more operations in {OUT_JSON.relative_to(ROOT)}")

    out.append("")
    out.append("seconds by role (startup: process start to the first task; between tasks: the rest of the wall time)")
    for o in ran:
        out.append(f"  {o.scenario.key}: " + " | ".join(f"{k} {v:.1f}" for k, v in seconds_by_role(o).items()))
    out.append("")
    out.append("slowest tasks (per scenario)")
    for o in ran:
        parts = [
            f"{t.duration:.1f}s {short_task(t)}" + (f" ({t.attempts} attempts)" if t.attempts > 1 else "")
            for t in slowest(o, 4)
        ]
        out.append(f"  {o.scenario.key}: " + " | ".join(parts))
    out.append("")
    out.append(f"full data: {OUT_JSON.relative_to(ROOT)}; playbook outputs: {OUT_DIR.relative_to(ROOT)}/")
    print("\n".join(out), flush=True)


# --------------------------------------------------------------------------- main


def others_running() -> list[str]:
    """Command lines of other runs that may use this local cloud: ansible-playbook, molecule, another bench.

    A playbook run given another endpoint (-e outsource_aws_endpoint_url=http://127.0.0.1:<other port>)
    talks to another cloud and does not count; another bench's runs count through the bench itself.
    """
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        if int(proc.name) == os.getpid():
            continue
        try:
            argv = [a.decode(errors="replace") for a in proc.joinpath("cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        words = [Path(a).name for a in argv[:3]]
        line = " ".join(argv)
        bench = any(a.endswith("tools/bench/bench.py") for a in argv[:3])
        playbook = any(w in ("ansible-playbook", "molecule") for w in words)
        endpoint = re.search(r"outsource_aws_endpoint_url=\S*:(\d+)", line)
        if playbook and endpoint and int(endpoint.group(1)) != UPSTREAM_PORT:
            continue
        if bench or playbook:
            found.append(line[:160])
    return found


def wait_for_others(max_wait: float) -> None:
    deadline = time.monotonic() + max_wait
    while True:
        others = others_running()
        if not others:
            return
        if time.monotonic() >= deadline:
            raise SystemExit(
                "bench: other ansible-playbook or molecule runs use the local cloud, and the bench resets it:\n  "
                + "\n  ".join(others)
                + "\nWait until they finish (or pass --wait SECONDS, or --force to reset it anyway)."
            )
        say(f"{len(others)} other ansible-playbook/molecule run(s) in progress; waiting for them (checking every 30 s)")
        time.sleep(min(30.0, max(1.0, deadline - time.monotonic())))


def local_cloud(command: str) -> None:
    say(f"local cloud: {command}")
    result = subprocess.run([sys.executable, str(LOCAL_CLOUD), command], cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench: `local_cloud.py {command}` failed (rc {result.returncode})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the local cloud (and the deployment) up at the end")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only `--tags preflight,network` twice, against the running local cloud (no reset, no down)",
    )
    parser.add_argument("--no-reset", action="store_true", help="do not reset the local cloud first (needs it up)")
    parser.add_argument(
        "--wait",
        type=float,
        default=600,
        help="wait up to this many seconds for other ansible-playbook/molecule runs to finish (default 600)",
    )
    parser.add_argument("--force", action="store_true", help="reset the local cloud even while others use it")
    parser.add_argument("--top", type=int, default=8, help="repeated operations to list per scenario (default 8)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    reset = not (args.quick or args.no_reset)
    if reset and not args.force:
        wait_for_others(args.wait)
    if reset:
        say("resetting the local cloud (down, then up): anything deployed in it is lost")
        local_cloud("down")
        local_cloud("up")

    started = datetime.now(UTC)
    outcomes: list[Outcome] = []
    proxy = CountingProxy(UPSTREAM_HOST, UPSTREAM_PORT).start()
    say(f"counting proxy {proxy.url} -> http://{UPSTREAM_HOST}:{UPSTREAM_PORT}")
    try:
        with tempfile.TemporaryDirectory(prefix="outsource-bench-") as tmp:
            backend = None if args.quick else make_backend_copy(Path(tmp))
            env = playbook_env()
            bench_start = time.monotonic()
            failed = False
            for scenario in scenarios(backend, args.quick):
                if failed:
                    outcomes.append(Outcome(scenario, note="not run: an earlier scenario failed"))
                    continue
                outcome = run_scenario(scenario, proxy, env)
                outcomes.append(outcome)
                failed = outcome.ran and outcome.rc != 0
            bench_seconds = time.monotonic() - bench_start
    finally:
        proxy.stop()
        if reset and not args.keep:
            local_cloud("down")

    by_key = {o.scenario.key: o for o in outcomes}
    data = {
        "started": started.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "local_cloud_reset": reset,
        "bench_seconds": round(bench_seconds, 1),
        "scenarios": {o.scenario.key: outcome_json(o) for o in outcomes},
        "ratios": [] if args.quick else ratio_rows(by_key),
        "overlap": overlap(by_key["full"]) if "full" in by_key else None,
    }
    data["needless_repeats_total"] = sum(rep["needless"] for s in data["scenarios"].values() for rep in s["repeats"])
    data["needless_repeats_within_task"] = sum(
        rep["needless_within_task"] for s in data["scenarios"].values() for rep in s["repeats"]
    )
    OUT_JSON.write_text(json.dumps(data, indent=2, sort_keys=False, default=dict) + "\n")
    print_report(outcomes, data, args.quick, args.top)
    say(f"bench took {bench_seconds:.0f} s of playbook runs")

    if any(o.ran and o.rc != 0 for o in outcomes):
        return 2
    if args.strict and (any(r["verdict"] == "MISS" for r in data["ratios"]) or data["needless_repeats_total"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
