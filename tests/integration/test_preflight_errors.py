"""Preflight failures on real-AWS settings end in one message that names the cause and the fix.

Each case runs the real site.yml with the AWS inventory (inventory/aws) from a
temporary copy of the project, so a real group_vars/all/vault.yml in the checkout
is never read or touched. None needs the shared local cloud or a network: AWS is a
moto server (port 4598) whose resources are read back afterwards, or a stub HTTP
server that answers like AWS and records every request (only reads may reach it),
or, for the unknown region, the real endpoint name of a region that does not exist.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv/bin"
MOTO_PORT = 4598
ACCOUNT = "123456789012"
SECRETS = {
    "vault_db_password": "Hackathon-Pass123",
    "vault_jwt_secret": "jwt-secret-for-the-test-only",
    "vault_gemini_api_key": "gemini-key-for-the-test-only",
}
# Whatever the machine has: the mysql client check is not what these tests are about.
NO_MYSQL_CHECK = {"preflight_check_mysql_client": False}


# --------------------------------------------------------------------------- the project copy


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the runnable project without group_vars/all/vault.yml: what a clean clone has."""
    root = tmp_path / "project"
    (root / "group_vars/all").mkdir(parents=True)
    (root / "playbooks").mkdir()
    for name in ("site.yml", "ansible.cfg", "group_vars/all/main.yml", "playbooks/secrets.yml"):
        shutil.copy(ROOT / name, root / name)
    # Read-only parts are linked; collections/ansible_collections/outsource/deploy
    # resolves to this checkout, whose roles and plugins the run uses.
    for name in ("collections", "roles", "plugins", "meta", "examples", "inventory"):
        (root / name).symlink_to(ROOT / name)
    (root / "playbooks/group_vars").symlink_to("../group_vars")
    return root


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any AWS, Ansible, OUTSOURCE_ or proxy setting of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "ANSIBLE_", "OUTSOURCE_")) and not k.lower().endswith("_proxy")
    }
    env.update(
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        AWS_ACCESS_KEY_ID="AKIAPREFLIGHTTEST000",
        AWS_SECRET_ACCESS_KEY="preflight-test-dummy-secret",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def run_site(project: Path, *args: str, extra_vars: dict | None = None, env: dict[str, str]) -> tuple[int, str]:
    command = [str(BIN / "ansible-playbook"), "site.yml", *args]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    result = subprocess.run(
        command,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def the_failure(output: str) -> str:
    """The one failure line of a run: no traceback, no second failure."""
    assert "Traceback" not in output, output[-3000:]
    failed = [line for line in output.splitlines() if line.startswith(("fatal:", "failed:"))]
    assert len(failed) == 1, output[-3000:]
    return failed[0]


def failed_task(output: str) -> str:
    """The name of the task whose failure ended the run."""
    before = output[: output.index("\nfatal:")]
    return re.findall(r"^TASK \[(.+?)\] \**$", before, flags=re.MULTILINE)[-1]


def assert_nothing_changed(output: str) -> None:
    assert re.search(r"^localhost\s+: ok=\d+\s+changed=0\s", output, flags=re.MULTILINE), output[-2000:]


# --------------------------------------------------------------------------- a stub AWS

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def error_body(namespace: str, code: str, message: str) -> str:
    # The Query-protocol error document STS and IAM send; botocore reads Code into
    # the ClientError's error code.
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )


def caller_identity() -> tuple[int, str]:
    # What a Learner Lab session's GetCallerIdentity returns.
    return 200, (
        f'<GetCallerIdentityResponse xmlns="{STS_NS}"><GetCallerIdentityResult>'
        f"<Arn>arn:aws:sts::{ACCOUNT}:assumed-role/voclabs/user4242=student</Arn>"
        f"<UserId>AROAPREFLIGHTTEST:user4242=student</UserId><Account>{ACCOUNT}</Account>"
        f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
        f"</ResponseMetadata></GetCallerIdentityResponse>"
    )


def expired_token(service: str, action: str) -> tuple[int, str]:
    # AWS answers any call signed with an expired session token like this.
    namespace = STS_NS if service == "sts" else IAM_NS
    return 400, error_body(namespace, "ExpiredToken", "The security token included in the request is expired")


def access_denied(action: str) -> tuple[int, str]:
    return 403, error_body(
        IAM_NS,
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/voclabs/user4242=student is not authorized to perform: "
        f"iam:{action} on resource: arn:aws:iam::{ACCOUNT}:role/ because no identity-based policy allows "
        f"the iam:{action} action",
    )


def iam_denies_everything(service: str, action: str) -> tuple[int, str]:
    """A Learner Lab-like account: STS works, every IAM read is denied."""
    return caller_identity() if action == "GetCallerIdentity" else access_denied(action)


def iam_lists_nothing_and_has_no_role(service: str, action: str) -> tuple[int, str]:
    """ListRoles denied, GetRole answers NoSuchEntity: the preferred names are known not to exist."""
    if action == "GetCallerIdentity":
        return caller_identity()
    if action == "GetRole":
        return 404, error_body(IAM_NS, "NoSuchEntity", "The role with name cannot be found.")
    return access_denied(action)


# Every call preflight may make: all of them only read.
READS = {"GetCallerIdentity", "ListAccountAliases", "ListRoles", "GetRole"}


class StubAWS:
    """An HTTP server that answers AWS Query-protocol calls and records (service, action)."""

    def __init__(self, answer: Callable[[str, str], tuple[int, str]]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                action = parse_qs(body).get("Action", ["?"])[0]
                scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", self.headers.get("Authorization", ""))
                service = scope.group(1) if scope else "?"
                stub.calls.append((service, action))
                status, text = stub.answer(service, action)
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubAWS:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- moto


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=MOTO_PORT)
    server.start()
    endpoint = f"http://127.0.0.1:{MOTO_PORT}"
    # moto keeps its state in the process: every test starts from a fresh account.
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    try:
        yield endpoint
    finally:
        server.stop()


def moto_client(service: str, endpoint: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )


def trust_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def what_the_deployment_created(endpoint: str) -> dict[str, list[str]]:
    """Everything site.yml creates, read back from moto's APIs."""
    return {
        "security groups": [
            g["GroupName"]
            for g in moto_client("ec2", endpoint).describe_security_groups()["SecurityGroups"]
            if g["GroupName"].startswith("outsource-")
        ],
        "db instances": [
            d["DBInstanceIdentifier"] for d in moto_client("rds", endpoint).describe_db_instances()["DBInstances"]
        ],
        "db subnet groups": [
            g["DBSubnetGroupName"] for g in moto_client("rds", endpoint).describe_db_subnet_groups()["DBSubnetGroups"]
        ],
        "ecr repositories": [
            r["repositoryName"] for r in moto_client("ecr", endpoint).describe_repositories()["repositories"]
        ],
        "log groups": [g["logGroupName"] for g in moto_client("logs", endpoint).describe_log_groups()["logGroups"]],
        "ecs clusters": moto_client("ecs", endpoint).list_clusters()["clusterArns"],
    }


NOTHING = {
    "security groups": [],
    "db instances": [],
    "db subnet groups": [],
    "ecr repositories": [],
    "log groups": [],
    "ecs clusters": [],
}


# --------------------------------------------------------------------------- 1. no vault file


def test_no_vault_file_says_to_run_secrets_yml(project, tmp_path):
    # A user who never ran playbooks/secrets.yml: group_vars/all/vault.yml does not exist.
    assert not (project / "group_vars/all/vault.yml").exists()
    with StubAWS(iam_denies_everything) as aws:
        rc, output = run_site(project, extra_vars={"outsource_aws_endpoint_url": aws.endpoint}, env=clean_env(tmp_path))

    assert rc != 0, output[-3000:]
    message = the_failure(output)
    assert "Missing secrets: vault_db_password, vault_jwt_secret, vault_gemini_api_key" in message, message
    assert "`ansible-playbook playbooks/secrets.yml`" in message, message
    assert "group_vars/all/vault.yml does not exist yet" in message, message
    assert "--ask-vault-pass" in message, message
    assert aws.calls == [], "the run called AWS before failing"


# --------------------------------------------------------------------------- 2. wrong vault password


def write_vault_with_secrets_yml(project: Path, tmp_path: Path, vault_password: str) -> Path:
    """Create group_vars/all/vault.yml the way a user does: playbooks/secrets.yml."""
    env = clean_env(
        tmp_path,
        OUTSOURCE_DB_PASSWORD=SECRETS["vault_db_password"],
        OUTSOURCE_GEMINI_API_KEY=SECRETS["vault_gemini_api_key"],
        OUTSOURCE_VAULT_PASSWORD=vault_password,
    )
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "playbooks/secrets.yml"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    vault = project / "group_vars/all/vault.yml"
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")
    return vault


def test_wrong_vault_password_fails_with_one_error_and_calls_no_aws(project, tmp_path):
    write_vault_with_secrets_yml(project, tmp_path, "the-password-chosen-in-secrets-yml")
    right = tmp_path / "right-password"
    right.write_text("the-password-chosen-in-secrets-yml\n")
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password-of-this-vault\n")

    with StubAWS(iam_denies_everything) as aws:
        endpoint = {"outsource_aws_endpoint_url": aws.endpoint}
        for how in (["--vault-password-file", str(wrong)], []):
            # Given the wrong password, or none (only the local cloud's throwaway one).
            rc, output = run_site(project, *how, extra_vars=endpoint, env=clean_env(tmp_path))
            assert rc != 0, output[-3000:]
            assert "Traceback" not in output, output[-3000:]
            errors = [line for line in output.splitlines() if re.match(r"(\[ERROR\]|ERROR!|fatal:|failed:)", line)]
            assert len(errors) == 1, output[-3000:]
            # Ansible decrypts a vault-encrypted group_vars file before the first
            # task: its own message is all there is (see roles/preflight/README.md).
            assert "Decryption failed" in errors[0], errors[0]
            assert not re.search(r"^TASK ", output, flags=re.MULTILINE), "a task ran"
        assert aws.calls == [], "the run called AWS before failing"

        # The control: the same vault with the right password gets through preflight.
        rc, output = run_site(
            project,
            "--vault-password-file",
            str(right),
            "--tags",
            "preflight",
            extra_vars={**endpoint, **NO_MYSQL_CHECK},
            env=clean_env(tmp_path),
        )
    assert rc == 0, output[-3000:]
    for value in SECRETS.values():
        assert value not in output


# --------------------------------------------------------------------------- 3. unknown region


def test_unknown_region_says_it_is_probably_not_a_region(project, tmp_path):
    # No endpoint override: the real STS endpoint of a region that does not exist.
    # Its host name resolves nowhere, with or without a network.
    rc, output = run_site(
        project, extra_vars={**SECRETS, **NO_MYSQL_CHECK, "outsource_aws_region": "us-east-9"}, env=clean_env(tmp_path)
    )

    assert rc != 0, output[-3000:]
    message = the_failure(output)
    assert failed_task(output).endswith("Fail when the AWS credentials do not work"), output[-3000:]
    assert "'us-east-9'" in message and "probably not an AWS region" in message, message
    assert "us-east-1 or us-west-2" in message and "Learner Lab" in message, message
    assert "network" in message and "outsource_aws_region" in message, message
    assert_nothing_changed(output)


def test_known_region_unreachable_blames_the_network_not_the_region(project, tmp_path):
    # The control: a real region whose STS cannot be reached (botocore sends it to a
    # port nothing listens on) must not be called "probably not an AWS region".
    env = clean_env(tmp_path, AWS_ENDPOINT_URL_STS="http://127.0.0.1:9")
    rc, output = run_site(
        project, extra_vars={**SECRETS, **NO_MYSQL_CHECK, "outsource_aws_region": "us-west-2"}, env=env
    )

    assert rc != 0, output[-3000:]
    message = the_failure(output)
    assert "AWS could not be reached (region us-west-2)" in message, message
    assert "not an AWS region" not in message, message
    assert "network" in message, message


# --------------------------------------------------------------------------- 4. expired credentials


def test_expired_session_token_says_how_to_refresh_learner_lab_credentials(project, tmp_path):
    with StubAWS(expired_token) as aws:
        rc, output = run_site(
            project,
            extra_vars={**SECRETS, **NO_MYSQL_CHECK, "outsource_aws_endpoint_url": aws.endpoint},
            env=clean_env(tmp_path, AWS_SESSION_TOKEN="an-expired-learner-lab-session-token"),
        )

    assert rc != 0, output[-3000:]
    message = the_failure(output)
    assert "Your AWS session has expired" in message, message
    assert "AWS Details" in message and "~/.aws/credentials" in message, message
    assert "ExpiredToken" in message or "expired" in message, message
    # GetCallerIdentity was the only call: nothing was read, let alone created.
    assert aws.calls and set(aws.calls) == {("sts", "GetCallerIdentity")}, aws.calls
    assert "an-expired-learner-lab-session-token" not in output


# --------------------------------------------------------------------------- 5. no usable execution role


def test_account_without_an_execution_role_fails_before_creating_anything(project, tmp_path, moto_endpoint):
    iam = moto_client("iam", moto_endpoint)
    iam.create_role(RoleName="web-frontend-role", AssumeRolePolicyDocument=trust_policy("ec2.amazonaws.com"))
    iam.create_role(RoleName="data-pipeline-role", AssumeRolePolicyDocument=trust_policy("glue.amazonaws.com"))
    # A service-linked role matches the keyword "ecs" but ECS cannot run tasks with it.
    iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")

    rc, output = run_site(
        project,
        extra_vars={**SECRETS, **NO_MYSQL_CHECK, "outsource_aws_endpoint_url": moto_endpoint},
        env=clean_env(tmp_path),
    )

    assert rc != 0, output[-3000:]
    message = the_failure(output)
    assert failed_task(output).endswith("Fail when the account has no usable execution role"), output[-3000:]
    assert "No ECS task execution role" in message and ACCOUNT in message, message
    assert "ecsTaskExecutionRole or LabRole" in message and "ecs, execution, task" in message, message
    assert "ecs-tasks.amazonaws.com" in message and "outsource_execution_role_arn" in message, message
    assert "WARNING: no ECS task execution role found" not in output
    assert what_the_deployment_created(moto_endpoint) == NOTHING


def test_a_role_found_by_keyword_gets_past_preflight(project, tmp_path, moto_endpoint):
    # The control of the case above: the same kind of account plus one role whose
    # name holds a keyword.
    iam = moto_client("iam", moto_endpoint)
    iam.create_role(RoleName="web-frontend-role", AssumeRolePolicyDocument=trust_policy("ec2.amazonaws.com"))
    iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    arn = iam.create_role(
        RoleName="hackathon-ECS-runner", AssumeRolePolicyDocument=trust_policy("ecs-tasks.amazonaws.com")
    )["Role"]["Arn"]

    rc, output = run_site(
        project,
        "--tags",
        "preflight",
        extra_vars={**SECRETS, **NO_MYSQL_CHECK, "outsource_aws_endpoint_url": moto_endpoint},
        env=clean_env(tmp_path),
    )

    assert rc == 0, output[-3000:]
    assert "Traceback" not in output
    assert f"Execution role: {arn} (found by keyword (ecs, execution, task))" in output, output[-3000:]
    assert "WARNING: no ECS task execution role" not in output, output[-3000:]
    assert "WARNING: the trust policy" not in output, output[-3000:]


def test_roles_that_cannot_be_read_fall_back_to_labrole_with_a_warning(project, tmp_path):
    # Learner Lab may deny iam:ListRoles and iam:GetRole and still have LabRole.
    with StubAWS(iam_denies_everything) as aws:
        rc, output = run_site(
            project,
            "--tags",
            "preflight",
            extra_vars={**SECRETS, **NO_MYSQL_CHECK, "outsource_aws_endpoint_url": aws.endpoint},
            env=clean_env(tmp_path),
        )

    assert rc == 0, output[-3000:]
    assert "Traceback" not in output
    assert "WARNING: no ECS task execution role found" in output, output[-3000:]
    assert "not authorized to perform: iam:ListRoles" in output or "iam:GetRole" in output, output[-3000:]
    assert f"Execution role: arn:aws:iam::{ACCOUNT}:role/LabRole (fallback" in output, output[-3000:]
    assert {action for _, action in aws.calls} == {
        "GetCallerIdentity",
        "ListAccountAliases",  # aws_caller_info asks for the account alias; denied, it is skipped
        "ListRoles",
        "GetRole",
    }, aws.calls


def test_preferred_roles_known_missing_when_listing_is_denied(project, tmp_path):
    # ListRoles denied, but GetRole says NoSuchEntity for each preferred name:
    # the account is known not to have them, so no LabRole guess.
    with StubAWS(iam_lists_nothing_and_has_no_role) as aws:
        rc, output = run_site(
            project,
            extra_vars={**SECRETS, **NO_MYSQL_CHECK, "outsource_aws_endpoint_url": aws.endpoint},
            env=clean_env(tmp_path),
        )

    assert rc != 0, output[-3000:]
    message = the_failure(output)
    assert "No ECS task execution role" in message and "NoSuchEntity" in message, message
    assert "outsource_execution_role_arn" in message, message
    assert ("iam", "GetRole") in aws.calls, aws.calls
    assert {action for _, action in aws.calls} <= READS, aws.calls
