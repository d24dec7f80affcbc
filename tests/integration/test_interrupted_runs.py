"""An interrupted deployment is finished by running site.yml again; check mode on a deployed stack changes nothing.

One sequence on an empty local cloud (make local-up), in the order of the tests below:

1. site.yml is killed with SIGKILL, with its workers and running module (the laptop lid closing, Ctrl-C twice),
   right after the task that starts RDS; a rerun is killed right after the image push (the content tag and
   `latest`); a rerun is killed while the module that waits for the service's task runs. Each kill is
   proven: the run died by SIGKILL (rc -9), its output stops right there, and the AWS API shows the deployment
   stopped at that point.
2. A plain rerun finishes: the API URL answers GET /health with {"status": "healthy"} over real HTTP, and the
   AWS API holds one of each resource (tests/helpers/deployment_details.py counts every copy).
3. On the deployed stack, `site.yml --check --diff` and `site.yml --tags redeploy --check --diff` report
   changed=0, `playbooks/teardown.yml -e confirm=true --check` runs to the end and deletes nothing, and no
   secret of the local vault appears in their output.
4. Security groups changed by hand (MySQL opened to 0.0.0.0/0, a tag added, the API rule's port changed) and the
   DB subnet group changed by hand (another description, a subnet dropped) are put back by a plain rerun, in
   place.
5. The real teardown leaves an empty cloud; a finalizer tears down whatever a failed step left behind.

Run it with the cloud lock held for the whole file (the deployment lives across the tests).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ENDPOINT, LOCAL_CREDENTIALS, ROOT, leaks, local_client, local_vault_secrets, secret_needles

PLAYBOOK = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventory/local"]
RESOURCES = [sys.executable, str(ROOT / "tests/helpers/aws_resources.py")]
DETAILS = [sys.executable, str(ROOT / "tests/helpers/deployment_details.py")]

APP = "outsource"
CREDENTIALS = LOCAL_CREDENTIALS
BANNER = re.compile(r"^TASK \[(?P<name>.*)\] \**$")
RESULT = re.compile(r"^(ok|changed|fatal|failed|skipping): \[localhost\]")
RECAP = re.compile(r"^localhost\s*:.*\bchanged=(\d+)\b.*\bfailed=(\d+)\b", re.MULTILINE)
API_URL = re.compile(r'"API URL\s*: (http://\S+?)"')

# The tasks the kills are timed by (site.yml, roles/rds/tasks/instance.yml, roles/ecr_image/tasks/build_and_push.yml,
# roles/ecs/tasks/verify.yml).
RDS_START_TASK = "outsource.deploy.rds : Create the RDS instance (returns at once; the wait step waits for it)"
PUSH_TASK = "outsource.deploy.ecr_image : Build the image and push it under the content tag"
LATEST_TASK = "outsource.deploy.ecr_image : Tag the image as latest and push it"
SERVICE_WAIT_TASK = "outsource.deploy.ecs : Wait for the service's task to run (1-2 minutes on Fargate)"
# roles/network/tasks/create_*_security_group.yml: they run only for a group that is missing or differs.
SECURITY_GROUP_TASKS = (
    "outsource.deploy.network : Create the ECS security group with the API port open",
    "outsource.deploy.network : Create the RDS security group with MySQL open to the operator and ECS",
)
# roles/rds/tasks/subnet_group.yml: it runs only when the instance does not use the wanted subnet group yet.
SUBNET_GROUP_TASK = "outsource.deploy.rds : Create the DB subnet group"


def env() -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        # Every task's banner is printed when the task starts, skipped or not (ansible.cfg defers it to the first
        # printed result): the kills are timed by the banners, and skipped tasks show as "skipping".
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "1",
        # Ansible does not flush its output; the kills must see each line when it is written.
        "PYTHONUNBUFFERED": "1",
        "AWS_ENDPOINT_URL": ENDPOINT,
        **CREDENTIALS,
    }


@dataclass
class Run:
    rc: int
    output: str
    killed: bool = False

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    @property
    def banners(self) -> list[str]:
        return [m.group("name") for m in map(BANNER.match, self.lines) if m]

    def result_of(self, task: str) -> str:
        """The first result line ("ok: [localhost]", "skipping: ...") printed after TASK's banner; '' if none."""
        lines = self.lines
        start = next((i for i, line in enumerate(lines) if (m := BANNER.match(line)) and m.group("name") == task), None)
        for line in lines[start + 1 :] if start is not None else []:
            if BANNER.match(line):
                return ""
            if RESULT.match(line):
                return line
        return ""

    def ran(self, task: str) -> bool:
        """Whether TASK ran (a skipped task shows "skipping", or nothing when its whole block was skipped)."""
        return self.result_of(task).startswith(("ok:", "changed:", "fatal:", "failed:"))

    def recap(self) -> tuple[int, int]:
        found = RECAP.search(self.output)
        assert found, f"no PLAY RECAP in the output:\n{self.output[-4000:]}"
        return int(found.group(1)), int(found.group(2))


def run(*args: str, timeout: int = 600) -> Run:
    result = subprocess.run(
        [*PLAYBOOK, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Run(result.returncode, result.stdout + result.stderr)


def process_tree(root: int) -> dict[int, bytes]:
    """ROOT and every process below it, with their command lines. Ansible's workers are not in the playbook's
    process group (each calls setsid), so a group kill would leave them and their modules running."""
    parents: dict[int, int] = {}
    cmdlines: dict[int, bytes] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # The fields after "(comm)": state, ppid.
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdlines[int(proc.name)] = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
    tree = {root}
    grew = True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return {pid: cmdlines.get(pid, b"") for pid in tree}


def signal_quietly(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def kill_tree(root: int) -> None:
    """SIGKILL ROOT and everything below it at once, as a power cut would: first stop them all (a stopped process
    cannot fork), top down until no new one appears, then kill them."""
    # The playbook first: it prints the results, so once it stops the output stops.
    signal_quietly(root, signal.SIGSTOP)
    stopped: set[int] = {root}
    while new := set(process_tree(root)) - stopped:
        for pid in new:
            signal_quietly(pid, signal.SIGSTOP)
        stopped |= new
    for pid in stopped:
        signal_quietly(pid, signal.SIGKILL)


def run_killed(*, after: str | None = None, at: str | None = None, module: str = "", timeout: int = 300) -> Run:
    """Run site.yml and SIGKILL it with everything it started (its workers and the running module).

    after: kill at the first task banner after task AFTER's, that is when the next task starts (AFTER has finished).
    at, module: kill once task AT has started and a process of the group runs MODULE (the task is under way).
    Killed only there: a run that never gets there ends by itself (or by the timeout) with killed=False."""
    process = subprocess.Popen(
        [*PLAYBOOK, "site.yml"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env(),
        start_new_session=True,
    )
    watchdog = threading.Timer(timeout, kill_tree, [process.pid])
    watchdog.start()
    output: list[str] = []
    killed = seen_after = False
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            banner = BANNER.match(line.rstrip("\n"))
            if killed or not banner:
                continue
            if seen_after:
                kill_tree(process.pid)
                killed = True
            elif banner.group("name") == after:
                seen_after = True
            elif banner.group("name") == at:
                # The banner comes before the module starts: wait (up to 30 s) until it runs.
                deadline = time.monotonic() + 30
                while process.poll() is None and time.monotonic() < deadline:
                    if any(f"AnsiballZ_{module}.py".encode() in cmd for cmd in process_tree(process.pid).values()):
                        kill_tree(process.pid)
                        killed = True
                        break
                    time.sleep(0.01)
        rc = process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            kill_tree(process.pid)
            process.wait()
    return Run(rc, "".join(output), killed)


def http_get(url: str) -> tuple[int, object]:
    """GET URL over real HTTP: the status and the JSON body."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
    try:
        connection.request("GET", parts.path or "/")
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def helper(command: list[str]) -> dict:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env(), check=False)
    assert result.returncode == 0, f"{Path(command[1]).name} failed (is the local cloud up?):\n{result.stderr[-2000:]}"
    return json.loads(result.stdout)


def resources() -> dict:
    return helper(RESOURCES)


def details() -> dict:
    return helper(DETAILS)


def wait_for_details(predicate, timeout: float = 30) -> dict:
    """The deployment details once PREDICATE holds for them (ECS counts settle a second after a change)."""
    deadline = time.monotonic() + timeout
    found = details()
    while not predicate(found) and time.monotonic() < deadline:
        time.sleep(1)
        found = details()
    return found


def assert_killed_right_after(killed: Run, task: str) -> None:
    """KILLED died by our SIGKILL right after TASK finished: TASK has a result, and the last banner is the next
    task's, with no result."""
    tail = killed.output[-3000:]
    assert killed.killed, f"the run never reached the kill point after {task!r}:\n{tail}"
    assert killed.rc == -signal.SIGKILL, f"rc {killed.rc}, expected -9 (SIGKILL):\n{tail}"
    assert "PLAY RECAP" not in killed.output, tail
    assert task in killed.banners, tail
    assert killed.result_of(task).startswith(("ok:", "changed:")), f"{task!r} did not finish:\n{tail}"
    assert killed.banners[-2] == task, f"not killed right after {task!r}:\n{tail}"
    assert killed.result_of(killed.banners[-1]) == "", f"the task after {task!r} got further than its start:\n{tail}"


@pytest.fixture(scope="module")
def cloud():
    """An empty local cloud for the sequence; whatever a failed step left is torn down at the end."""
    before = resources()
    if before["total"]:
        run("playbooks/teardown.yml", "-e", "confirm=true")
        before = resources()
    assert before["total"] == 0, f"the local cloud is not empty before the test: {before}"
    # The local cloud keeps deregistered (INACTIVE) task definition revisions of earlier deployments, and the
    # revision numbers go on from them: what this sequence registers is what is added to them.
    history = details()["task_definitions"]
    assert history["active"] == [], history
    state: dict = {"inactive_before": history["inactive"]}
    yield state
    left = resources()
    if left["total"]:
        teardown = run("playbooks/teardown.yml", "-e", "confirm=true")
        left = resources()
        assert left["total"] == 0, f"resources left behind: {left}\n{teardown.output[-3000:]}"


# ------------------------------------------------------------------ the kills


def test_killed_after_rds_start_then_rerun_picks_up(cloud):
    killed = run_killed(after=RDS_START_TASK)
    assert_killed_right_after(killed, RDS_START_TASK)
    assert killed.result_of(RDS_START_TASK).startswith("changed:"), killed.output[-3000:]
    found = details()
    assert [i["id"] for i in found["db_instances"]] == [f"{APP}-db"], found
    assert found["db_subnet_groups"] == [f"{APP}-db-subnets"], found
    assert sorted(g["name"] for g in found["security_groups"]) == [f"{APP}-ecs-sg", f"{APP}-rds-sg"], found
    # Killed before the image step: nothing of it or of ECS exists.
    assert found["ecr_repositories"] == {}, found
    assert found["ecs_clusters"] == {}, found
    assert found["task_definitions"] == {"active": [], "inactive": cloud["inactive_before"]}, found
    cloud["after_rds_start"] = found


def test_killed_after_the_image_push_then_rerun_picks_up(cloud):
    killed = run_killed(after=LATEST_TASK)
    assert_killed_right_after(killed, LATEST_TASK)
    assert killed.result_of(PUSH_TASK).startswith("changed:"), killed.output[-3000:]
    # The rerun found the RDS instance the killed run started: it did not create it again.
    assert not killed.ran(RDS_START_TASK), killed.result_of(RDS_START_TASK)
    found = details()
    images = found["ecr_repositories"].get(f"{APP}-api")
    assert images is not None and len(images) == 1, found
    content_tag = next(tag for tag in images[0]["tags"] if tag != "latest")
    assert images[0]["tags"] == sorted([content_tag, "latest"]), images
    # Killed before the ECS role: nothing of it exists.
    assert found["ecs_clusters"] == {} and found["log_groups"] == [], found
    assert found["task_definitions"] == {"active": [], "inactive": cloud["inactive_before"]}, found
    assert found["security_groups"] == cloud["after_rds_start"]["security_groups"], "security groups were recreated"
    cloud["content_tag"] = content_tag
    cloud["image_digest"] = images[0]["digest"]


def test_killed_during_the_service_wait_then_rerun_picks_up(cloud):
    killed = run_killed(at=SERVICE_WAIT_TASK, module="ecs_service_ip_info")
    tail = killed.output[-3000:]
    assert killed.killed, f"the run never reached {SERVICE_WAIT_TASK!r}:\n{tail}"
    assert killed.rc == -signal.SIGKILL, f"rc {killed.rc}, expected -9 (SIGKILL):\n{tail}"
    assert "PLAY RECAP" not in killed.output, tail
    # Killed while the wait's module ran: its banner is the last one, with no result after it.
    assert killed.banners[-1] == SERVICE_WAIT_TASK, tail
    assert killed.result_of(SERVICE_WAIT_TASK) == "", tail
    # The image was already there: no second build or push; the RDS instance was not created again.
    assert not killed.ran(PUSH_TASK) and not killed.ran(RDS_START_TASK), tail
    # The service had been created: its wait was under way.
    found = details()
    cluster = found["ecs_clusters"].get(f"{APP}-cluster")
    assert cluster is not None, found
    assert [s["name"] for s in cluster["services"]] == [f"{APP}-api-service"], found
    # One revision registered, the first after the history.
    assert len(found["task_definitions"]["active"]) == 1, found
    assert found["task_definitions"]["inactive"] == cloud["inactive_before"], found
    revision = found["task_definitions"]["active"][0]
    assert revision.startswith(f"{APP}-api:"), found
    numbers = [int(r.rsplit(":", 1)[1]) for r in [*cloud["inactive_before"], revision]]
    assert numbers[-1] == max(numbers), found
    assert len(found["ecr_repositories"][f"{APP}-api"]) == 1, found
    cloud["revision"] = revision


def test_a_plain_rerun_finishes_with_one_of_each_resource(cloud):
    finished = run("site.yml")
    tail = finished.output[-5000:]
    assert finished.rc == 0, tail
    assert "Traceback" not in finished.output, tail
    assert finished.recap()[1] == 0, tail
    # Nothing created, built, pushed or registered again.
    for task in (RDS_START_TASK, PUSH_TASK, "outsource.deploy.ecs : Register a new task definition revision"):
        assert not finished.ran(task), f"{task}: {finished.result_of(task)}\n{tail}"
    # The security groups and the DB subnet group already are right: the lookups alone decide,
    # ec2_security_group and rds_subnet_group are not called.
    for task in (*SECURITY_GROUP_TASKS, SUBNET_GROUP_TASK):
        assert finished.result_of(task).startswith("skipping:"), f"{task}: {finished.result_of(task)}\n{tail}"
    url = API_URL.search(finished.output)
    assert url, tail
    health = http_get(f"{url.group(1)}/health")
    assert health == (200, {"status": "healthy"}), health

    def settled(found: dict) -> bool:
        tasks = found["ecs_clusters"].get(f"{APP}-cluster", {}).get("tasks", [])
        return len(tasks) == 1 and tasks[0]["last_status"] == "RUNNING"

    found = wait_for_details(settled)
    assert [i["id"] for i in found["db_instances"]] == [f"{APP}-db"], found
    assert found["db_instances"][0]["status"] == "available", found
    assert found["db_subnet_groups"] == [f"{APP}-db-subnets"], found
    assert sorted(g["name"] for g in found["security_groups"]) == [f"{APP}-ecs-sg", f"{APP}-rds-sg"], found
    assert found["security_groups"] == cloud["after_rds_start"]["security_groups"], "security groups were recreated"
    assert list(found["ecr_repositories"]) == [f"{APP}-api"], found
    images = found["ecr_repositories"][f"{APP}-api"]
    expected = [{"digest": cloud["image_digest"], "tags": sorted([cloud["content_tag"], "latest"])}]
    assert images == expected, f"the image was pushed again: {images}"
    assert list(found["ecs_clusters"]) == [f"{APP}-cluster"], found
    cluster = found["ecs_clusters"][f"{APP}-cluster"]
    assert cluster["services"] == [
        {
            "name": f"{APP}-api-service",
            "status": "ACTIVE",
            "desired": 1,
            "running": 1,
            "task_definition": cloud["revision"],
        }
    ], found
    tasks = [(t["last_status"], t["task_definition"]) for t in cluster["tasks"]]
    assert tasks == [("RUNNING", cloud["revision"])], found
    assert found["task_definitions"] == {"active": [cloud["revision"]], "inactive": cloud["inactive_before"]}, found
    assert found["log_groups"] == [f"/ecs/{APP}-api"], found
    assert resources()["total"] == 9
    cloud["deployed"] = found


# ------------------------------------------------------------------ check mode on the deployed stack


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("site.yml", "--check", "--diff"), id="site"),
        pytest.param(("site.yml", "--tags", "redeploy", "--check", "--diff"), id="redeploy"),
    ],
)
def test_check_mode_on_the_deployed_stack_changes_nothing(cloud, args):
    assert "deployed" in cloud, "the rerun did not finish"
    before = details()
    checked = run(*args)
    tail = checked.output[-5000:]
    assert checked.rc == 0, tail
    assert "Traceback" not in checked.output, tail
    assert checked.recap() == (0, 0), f"check mode on the deployed stack must report changed=0 failed=0:\n{tail}"
    shown = leaks(checked.output, secret_needles(local_vault_secrets()))
    assert not shown, f"the output shows {shown}"
    assert details() == before, "check mode changed the deployment"


def test_teardown_check_mode_deletes_nothing(cloud):
    assert "deployed" in cloud, "the rerun did not finish"
    before = details()
    checked = run("playbooks/teardown.yml", "-e", "confirm=true", "--check", "--diff")
    tail = checked.output[-5000:]
    assert checked.rc == 0, tail
    assert "Traceback" not in checked.output, tail
    assert checked.recap()[1] == 0, tail
    # It ran to the end: the final listing says what a real run would delete.
    assert "Check mode: nothing was deleted. A real run deletes:" in checked.output, tail
    for name in (f"{APP}-db", f"{APP}-api-service", f"{APP}-cluster", f"/ecs/{APP}-api", f"{APP}-rds-sg"):
        assert name in checked.output.split("Check mode: nothing was deleted.")[-1], f"{name} not listed:\n{tail}"
    shown = leaks(checked.output, secret_needles(local_vault_secrets()))
    assert not shown, f"the output shows {shown}"
    assert details() == before, "teardown --check deleted or changed something"


# ------------------------------------------------------------------ network settings changed by hand


def security_groups() -> dict[str, dict]:
    """The app's two security groups as the EC2 API describes them, by name."""
    names = [f"{APP}-ecs-sg", f"{APP}-rds-sg"]
    found = local_client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": names}])[
        "SecurityGroups"
    ]
    return {g["GroupName"]: g for g in found}


def subnet_group() -> tuple[str, list[str]]:
    """The app's DB subnet group as RDS describes it: (description, sorted subnet ids)."""
    group = local_client("rds").describe_db_subnet_groups(DBSubnetGroupName=f"{APP}-db-subnets")["DBSubnetGroups"][0]
    return group["DBSubnetGroupDescription"], sorted(s["SubnetIdentifier"] for s in group["Subnets"])


def ingress(group: dict) -> list[tuple]:
    """Each ingress source of GROUP as (protocol, from port, to port, CIDR or group id)."""
    return sorted(
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), source)
        for p in group["IpPermissions"]
        for source in [r["CidrIp"] for r in p.get("IpRanges", [])]
        + [g["GroupId"] for g in p.get("UserIdGroupPairs", [])]
    )


def test_network_settings_changed_by_hand_are_put_back_by_a_rerun(cloud):
    assert "deployed" in cloud, "the rerun did not finish"
    wanted_subnet_group = subnet_group()
    description, subnets = wanted_subnet_group
    assert description == f"Subnets of the {APP} database" and len(subnets) >= 2, wanted_subnet_group
    groups = security_groups()
    ecs, rds = groups[f"{APP}-ecs-sg"], groups[f"{APP}-rds-sg"]
    wanted = {name: ingress(group) for name, group in groups.items()}
    client = local_client("ec2")
    # MySQL opened to the world, a tag added, and the API rule moved to another port.
    client.authorize_security_group_ingress(
        GroupId=rds["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    client.create_tags(Resources=[rds["GroupId"]], Tags=[{"Key": "by-hand", "Value": "yes"}])
    client.revoke_security_group_ingress(GroupId=ecs["GroupId"], IpPermissions=ecs["IpPermissions"])
    client.authorize_security_group_ingress(
        GroupId=ecs["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    # The DB subnet group: another description, one subnet fewer.
    local_client("rds").modify_db_subnet_group(
        DBSubnetGroupName=f"{APP}-db-subnets", DBSubnetGroupDescription="changed by hand", SubnetIds=subnets[:-1]
    )
    assert subnet_group() == ("changed by hand", subnets[:-1])
    changed = security_groups()
    assert ("tcp", 3306, 3306, "0.0.0.0/0") in ingress(changed[f"{APP}-rds-sg"]), changed
    assert ingress(changed[f"{APP}-ecs-sg"]) == [("tcp", 8080, 8080, "0.0.0.0/0")], changed

    rerun = run("site.yml")
    tail = rerun.output[-5000:]
    assert rerun.rc == 0, tail
    for task in (*SECURITY_GROUP_TASKS, SUBNET_GROUP_TASK):
        assert rerun.result_of(task).startswith("changed:"), f"{task}: {rerun.result_of(task)}\n{tail}"
    assert subnet_group() == wanted_subnet_group
    after = security_groups()
    assert {name: group["GroupId"] for name, group in after.items()} == {
        name: group["GroupId"] for name, group in groups.items()
    }, "the groups were recreated instead of corrected"
    assert {name: ingress(group) for name, group in after.items()} == wanted, after
    assert not any(source == "0.0.0.0/0" for *_, source in ingress(after[f"{APP}-rds-sg"])), after
    tags = {t["Key"]: t["Value"] for t in after[f"{APP}-rds-sg"].get("Tags", [])}
    assert tags == {"Name": f"{APP}-rds-sg", "app": APP}, tags


def test_teardown_leaves_an_empty_cloud(cloud):
    teardown = run("playbooks/teardown.yml", "-e", "confirm=true")
    assert teardown.rc == 0, teardown.output[-5000:]
    left = resources()
    assert left["total"] == 0, left
    found = details()
    assert found["db_instances"] == [] and found["security_groups"] == [], found
