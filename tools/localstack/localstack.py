#!/usr/bin/env python3
"""LocalStack community on this machine: the free AWS services, no Docker, no account.

Free LocalStack serves sts, iam, ec2 (default VPC, subnets, security groups)
and logs, but not ECS, RDS or ECR; the `localstack` Molecule scenario runs
preflight, network and the CloudWatch log group against it:

    localstack.py up       install (once) and start LocalStack at 127.0.0.1:$LOCALSTACK_PORT (default 4566)
    localstack.py down     stop it by its PID; leave nothing running
    localstack.py status   print the endpoint, the PID and the services

`localstack-core` runs on the host in its own virtualenv on Python >= 3.12
(found by tools/find-python). With a paid plan (LOCALSTACK_AUTH_TOKEN),
`start_pro()` runs the LocalStack Pro image on a Docker engine instead, which
serves ECS, RDS and ECR with real containers (used by the local cloud tool).

Standard library only: it runs before the project virtualenv exists.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

LOCALSTACK_VERSION = "2026.3.0"
# localstack-core pins none of these; without them its runtime fails to import.
LOCALSTACK_REQUIREMENTS = [
    f"localstack-core[runtime]=={LOCALSTACK_VERSION}",
    "service_identity==24.2.0",
    "pyopenssl<26",
    "cryptography>=45,<47",
    "cbor2<6",
]
HOST = "127.0.0.1"
PORT = int(os.environ.get("LOCALSTACK_PORT", "4566"))
ENDPOINT = f"http://{HOST}:{PORT}"
HEALTH_PATH = "/_localstack/health"
START_TIMEOUT = float(os.environ.get("LOCALSTACK_START_TIMEOUT", "120"))

ROOT = Path(__file__).resolve().parents[2]
FIND_PYTHON = ROOT / "tools" / "find-python"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "outsource-deploy"
VENV = Path(os.environ.get("LOCALSTACK_VENV", CACHE / "localstack-venv"))
STATE = Path(os.environ.get("LOCALSTACK_STATE", CACHE / "localstack"))
RUN = Path(os.environ.get("LOCALSTACK_RUN", "/run/outsource-deploy" if os.geteuid() == 0 else STATE / "run"))
# One instance per port, so a second one (another port) never takes the first one's PID file.
PIDFILE = RUN / f"localstack-{PORT}.pid"
VOLUME = STATE / f"volume-{PORT}"
LOGS = STATE / "logs"
LOGFILE = LOGS / f"localstack-{PORT}.log"

# The runtime on the host: everything on loopback, nothing fetched from outside.
RUNTIME_ENV = {
    "GATEWAY_LISTEN": f"{HOST}:{PORT}",
    # The default server (twisted) binds 0.0.0.0 whatever GATEWAY_LISTEN says; hypercorn binds the host given.
    "GATEWAY_SERVER": "hypercorn",
    "LOCALSTACK_HOST": f"{HOST}:{PORT}",
    "DNS_ADDRESS": "0",  # no DNS server (it would bind port 53)
    "SKIP_SSL_CERT_DOWNLOAD": "1",  # a self-signed certificate; no download
    "DISABLE_EVENTS": "1",  # no analytics
    "PERSISTENCE": "0",
    "LS_LOG": os.environ.get("LS_LOG", "info"),
}

# LocalStack with a paid plan (LOCALSTACK_AUTH_TOKEN): ECS, RDS and ECR, as containers.
PRO_IMAGE = os.environ.get("LOCALSTACK_PRO_IMAGE", f"localstack/localstack-pro:{LOCALSTACK_VERSION}")
PRO_CONTAINER = "outsource-localstack-pro"
PRO_SERVICE_PORTS = "4510-4559"


class LocalStackError(Exception):
    """A failure with a message that says what to do."""


def say(message: str) -> None:
    print(f"localstack: {message}", flush=True)


def run(cmd, check=True, env=None, timeout=None):
    result = subprocess.run(
        cmd, check=False, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=timeout
    )
    if check and result.returncode != 0:
        output = (result.stdout or "").strip()[-3000:]
        raise LocalStackError(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n{output}")
    return result


# --------------------------------------------------------------------------- probes


def port_in_use(port: int = PORT) -> bool:
    """Whether anything accepts TCP connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


def get_json(path: str, port: int = PORT) -> dict | None:
    """GET http://127.0.0.1:port/path as a JSON object; None when nothing (or no JSON object) answers."""
    conn = http.client.HTTPConnection(HOST, port, timeout=3)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            return None
        data = json.loads(body.decode() or "null")
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()
    return data if isinstance(data, dict) else None


def health(port: int = PORT) -> dict | None:
    """LocalStack's health document, or None when no LocalStack answers."""
    data = get_json(HEALTH_PATH, port)
    return data if data and isinstance(data.get("services"), dict) else None


def who_answers(port: int = PORT) -> str:
    """A guess at what holds the port, for the error message."""
    if get_json("/_ministack/health", port) is not None:
        return "MiniStack (the local cloud: `make local-down` stops it)"
    if health(port) is not None:
        return "a LocalStack not started by this tool (a LocalStack container or `localstack start`?)"
    return "a program not started by this tool"


def pid_alive(pidfile: Path = PIDFILE) -> int | None:
    """The PID in the PID file when that process is still the LocalStack this tool started."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if not process_exists(pid):
        return None
    # A stale PID file may name a process that reused the number: never touch that one.
    return pid if "localstack.runtime.main" in command_line(pid) else None


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        pass
    result = run(["ps", "-o", "command=", "-p", str(pid)], check=False)  # macOS: no /proc
    return result.stdout or ""


# --------------------------------------------------------------------------- install


def find_python() -> str:
    """Python >= 3.12 for the virtualenv: LOCALSTACK_PYTHON, else what tools/find-python finds."""
    wanted = os.environ.get("LOCALSTACK_PYTHON")
    if wanted:
        return wanted
    result = subprocess.run(["sh", str(FIND_PYTHON)], check=False, text=True, capture_output=True)
    if result.returncode == 0 and result.stdout.strip():
        return result.stdout.strip().splitlines()[-1]
    if sys.version_info >= (3, 12):
        return sys.executable
    raise LocalStackError(
        "localstack-core needs Python >= 3.12 (its code uses 3.12-only syntax). "
        + (result.stderr.strip() or "Install Python 3.12 or newer, or set LOCALSTACK_PYTHON to one.")
    )


def ensure_venv() -> Path:
    """The LocalStack virtualenv with the pinned requirements (installed once, then reused)."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements"
    wanted = "\n".join(LOCALSTACK_REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    base = find_python()
    say(f"installing localstack-core {LOCALSTACK_VERSION} into {VENV} on {base} (once; a few minutes)")
    started = time.monotonic()
    if VENV.exists():
        shutil.rmtree(VENV)
    run([base, "-m", "venv", str(VENV)])
    run([str(python), "-m", "pip", "install", "-q", *LOCALSTACK_REQUIREMENTS], timeout=1800)
    # Import the runtime once, so a broken install fails here with the reason, not as a silent exit later.
    run([str(python), "-c", "import localstack.runtime.main, localstack.services.ec2.provider"], timeout=300)
    stamp.write_text(wanted)
    say(f"installed in {time.monotonic() - started:.0f} s")
    return python


# --------------------------------------------------------------------------- start / stop


def start() -> None:
    pid = pid_alive()
    if pid and health() is not None:
        say(f"already answering at {ENDPOINT} (pid {pid})")
        return
    if pid:
        # Ours, but not answering (a half-started run): start over.
        stop()
    PIDFILE.unlink(missing_ok=True)
    if port_in_use():
        raise LocalStackError(
            f"port {PORT} on {HOST} is in use by {who_answers()}. Stop it, or choose a free port with "
            f"LOCALSTACK_PORT=PORT, and run `localstack.py up` again"
        )
    python = ensure_venv()
    for path in (RUN, LOGS, VOLUME):
        path.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for key in ("LOCALSTACK_AUTH_TOKEN", "LOCALSTACK_API_KEY"):
        env.pop(key, None)  # the community runtime needs none
    env.update(RUNTIME_ENV, LOCALSTACK_VOLUME_DIR=str(VOLUME))
    say(f"starting LocalStack {LOCALSTACK_VERSION} (community) at {ENDPOINT}; log {LOGFILE}")
    started = time.monotonic()
    with open(LOGFILE, "ab") as log:
        proc = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            env=env,
            cwd=str(VOLUME),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    PIDFILE.write_text(str(proc.pid))
    deadline = started + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            PIDFILE.unlink(missing_ok=True)
            raise LocalStackError(f"LocalStack exited with code {proc.returncode}; see {LOGFILE}\n{log_tail()}")
        data = health()
        if data is not None:
            say(f"LocalStack {data.get('version', '?')} ready in {time.monotonic() - started:.1f} s (pid {proc.pid})")
            return
        time.sleep(0.5)
    stop()
    raise LocalStackError(
        f"LocalStack did not answer at {ENDPOINT}{HEALTH_PATH} within {START_TIMEOUT:.0f} s; "
        f"see {LOGFILE}\n{log_tail()}"
    )


def log_tail(lines: int = 20) -> str:
    try:
        return "\n".join(LOGFILE.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop(timeout: float = 30.0) -> None:
    """Stop the LocalStack this tool started, by its PID (and its process group: its own session)."""
    pid = pid_alive()
    if pid is None:
        PIDFILE.unlink(missing_ok=True)
        return
    say(f"stopping LocalStack (pid {pid})")
    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not gone(pid):
        time.sleep(0.2)
    if not gone(pid):
        say(f"LocalStack (pid {pid}) did not stop within {timeout:.0f} s; killing it")
        signal_group(pid, signal.SIGKILL)
        time.sleep(0.5)
    PIDFILE.unlink(missing_ok=True)


def signal_group(pid: int, sig: int) -> None:
    """Signal the process and, as it leads its own session, the children it started."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except (ProcessLookupError, PermissionError):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def gone(pid: int) -> bool:
    """Whether the process and every process of its group have exited."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child (a start that failed)
    return not process_exists(pid) and not group_exists(pid)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# --------------------------------------------------------------------------- LocalStack with a paid plan


def docker_env(engine_host: str | None) -> dict:
    env = dict(os.environ)
    if engine_host:
        env["DOCKER_HOST"] = engine_host
    return env


def socket_path(engine_host: str | None) -> str:
    """The engine's socket on this machine, mounted into LocalStack so it can start containers."""
    if engine_host and engine_host.startswith("unix://"):
        return engine_host[len("unix://") :]
    return "/var/run/docker.sock"


def start_pro(token: str, engine_host: str | None = None, port: int = PORT) -> None:
    """Run LocalStack with a paid plan (ECS, RDS, ECR as real containers) on the Docker engine at 127.0.0.1:port.

    The image `localstack/localstack-pro` needs the auth token; the engine's socket is mounted so LocalStack
    starts ECS task and database containers beside itself. Idempotent: an answering container is kept.
    """
    if not token:
        raise LocalStackError("LOCALSTACK_AUTH_TOKEN is empty: set it to the token of your LocalStack account")
    env = docker_env(engine_host)
    running = run(["docker", "ps", "-q", "--filter", f"name=^{PRO_CONTAINER}$"], check=False, env=env)
    if (running.stdout or "").strip() and health(port) is not None:
        say(f"LocalStack Pro: already answering at http://{HOST}:{port}")
        return
    run(["docker", "rm", "-f", PRO_CONTAINER], check=False, env=env)
    if port_in_use(port):
        raise LocalStackError(f"port {port} on {HOST} is in use by {who_answers(port)}. Stop it and try again")
    sock = socket_path(engine_host)
    say(f"starting {PRO_IMAGE} at http://{HOST}:{port} (Docker engine {engine_host or 'default'})")
    run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            PRO_CONTAINER,
            "-p",
            f"{HOST}:{port}:4566",
            # Service ports (RDS endpoints and the like) that LocalStack hands out.
            "-p",
            f"{HOST}:{PRO_SERVICE_PORTS}:{PRO_SERVICE_PORTS}",
            "-e",
            "LOCALSTACK_AUTH_TOKEN",
            "-e",
            "DOCKER_HOST=unix:///var/run/docker.sock",
            "-e",
            f"LOCALSTACK_HOST=localhost.localstack.cloud:{port}",
            "-v",
            f"{sock}:/var/run/docker.sock",
            PRO_IMAGE,
        ],
        env=dict(env, LOCALSTACK_AUTH_TOKEN=token),
        timeout=900,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        data = health(port)
        if data is not None and data.get("services", {}).get("ecs") not in (None, "disabled"):
            say(f"LocalStack Pro: ready at http://{HOST}:{port} (edition {data.get('edition', '?')})")
            return
        state = run(["docker", "inspect", "-f", "{{.State.Running}}", PRO_CONTAINER], check=False, env=env)
        if (state.stdout or "").strip() != "true":
            break
        time.sleep(1)
    logs = run(["docker", "logs", "--tail", "30", PRO_CONTAINER], check=False, env=env).stdout
    raise LocalStackError(
        f"LocalStack Pro did not serve ECS at http://{HOST}:{port} (is LOCALSTACK_AUTH_TOKEN valid, "
        f"for a plan with ECS?); its last log lines:\n{logs}"
    )


def stop_pro(engine_host: str | None = None) -> None:
    """Stop the LocalStack Pro container; it removes the task and database containers it started."""
    env = docker_env(engine_host)
    found = run(["docker", "ps", "-aq", "--filter", f"name=^{PRO_CONTAINER}$"], check=False, env=env)
    if not (found.stdout or "").strip():
        return
    say("stopping LocalStack Pro")
    run(["docker", "stop", "-t", "60", PRO_CONTAINER], check=False, env=env, timeout=120)
    run(["docker", "rm", "-f", "-v", PRO_CONTAINER], check=False, env=env)


# --------------------------------------------------------------------------- commands


def cmd_up(_args) -> int:
    start()
    say(f"ready: AWS endpoint {ENDPOINT} (free services only: no ECS, RDS or ECR)")
    return 0


def cmd_down(_args) -> int:
    stop()
    if port_in_use():
        say(f"note: port {PORT} is held by {who_answers()}; left alone")
    say("down: no LocalStack of this tool is running")
    return 0


def cmd_status(_args) -> int:
    pid = pid_alive()
    data = health()
    state = "answering" if data is not None else ("in use by something else" if port_in_use() else "not running")
    print(f"endpoint : {ENDPOINT} ({state})")
    print(f"pid      : {pid if pid else '-'} ({PIDFILE})")
    print(f"venv     : {VENV} ({'installed' if (VENV / '.requirements').exists() else 'not installed'})")
    if data is not None:
        print(f"version  : {data.get('version', '?')}")
        services = data.get("services", {})
        usable = sorted(name for name, status in services.items() if status in ("available", "running"))
        print(f"services : {', '.join(usable)}")
    return 0 if (pid and data is not None) else 3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("up", cmd_up, "install (once) and start LocalStack community (idempotent)"),
        ("down", cmd_down, "stop LocalStack by its PID"),
        ("status", cmd_status, "show the endpoint, the PID and the services"),
    ):
        sub.add_parser(name, help=text).set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LocalStackError as exc:
        print(f"localstack: ERROR: {exc}", file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired as exc:
        print(f"localstack: ERROR: timed out: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
