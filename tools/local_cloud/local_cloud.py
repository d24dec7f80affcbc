#!/usr/bin/env python3
"""The local cloud: a LocalStack-compatible AWS (MiniStack) plus a Docker engine.

ECS tasks run as real containers, RDS instances as real MySQL-protocol servers
and ECR is a real registry, all on this machine:

    local_cloud.py up       start everything (idempotent; returns when all parts answer)
    local_cloud.py down     stop everything we started; leave no process, mount or link
    local_cloud.py status   print the endpoint, the engine socket and the images
    local_cloud.py env      print shell exports for the endpoint and the engine

Standard library only: it runs before the project virtualenv exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

MINISTACK_VERSION = "1.5.33"
MINISTACK_REQUIREMENTS = [f"ministack=={MINISTACK_VERSION}", "docker==7.2.0", "PyMySQL==1.2.4"]
PORT = int(os.environ.get("LOCAL_CLOUD_PORT", "4566"))
ENDPOINT = f"http://127.0.0.1:{PORT}"
# LOCALSTACK_AUTH_TOKEN set: LocalStack with a paid plan (ECS, RDS, ECR) instead of MiniStack.
LOCALSTACK_AUTH_TOKEN = os.environ.get("LOCALSTACK_AUTH_TOKEN", "")
HEALTH_URL = f"{ENDPOINT}/_localstack/health" if LOCALSTACK_AUTH_TOKEN else f"{ENDPOINT}/_ministack/health"
# Database containers publish their port on the host; task containers reach the
# host at the docker0 gateway, so endpoints must name that address.
BRIDGE_GATEWAY = "172.17.0.1"
RDS_BASE_PORT = int(os.environ.get("LOCAL_CLOUD_RDS_BASE_PORT", "15400"))
REGION = os.environ.get("LOCAL_CLOUD_REGION", "us-east-1")

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "outsource-deploy"
STATE = Path(os.environ.get("LOCAL_CLOUD_STATE", CACHE / "local-cloud"))
RUN = Path(os.environ.get("LOCAL_CLOUD_RUN", "/run/outsource-deploy" if os.geteuid() == 0 else STATE / "run"))
DOCKER_SOCK = RUN / "docker.sock"
DOCKER_PID = RUN / "dockerd.pid"
DOCKER_EXEC = RUN / "exec"
DOCKER_DATA = STATE / "docker-data"
MINISTACK_VENV = STATE / "ministack-venv"
MINISTACK_PID = RUN / "ministack.pid"
LOGS = STATE / "logs"

PYTHON_IMAGE = "python:3.12-slim"
MYSQL_IMAGE = "mysql:8.0"
STANDIN_LABEL = "outsource.deploy.standin"
# Bump when a stand-in recipe changes: cached stand-ins of another version are rebuilt.
STANDIN_VERSION = "2"
# Debian packages baked into the offline Python stand-in: the sample backend's
# requirements are satisfied by them, so `pip install` needs no network.
PYTHON_STANDIN_PACKAGES = [
    "python3",
    "python3-pip",
    "python3-fastapi",
    "python3-uvicorn",
    "python3-sqlalchemy",
    "python3-pymysql",
    "ca-certificates",
]
MYSQL_STANDIN_PACKAGES = ["mariadb-server", "mariadb-client"]

MYSQL_ENTRYPOINT = r"""#!/bin/sh
# Stand-in for the mysql:8.0 image entrypoint (MariaDB underneath): honours
# MYSQL_ROOT_PASSWORD, MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD.
set -e
datadir=/var/lib/mysql
q() { printf %s "$1" | sed "s/'/''/g"; }
mkdir -p "$datadir" /run/mysqld
chown -R mysql:mysql "$datadir" /run/mysqld
if [ ! -d "$datadir/mysql" ]; then
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  init=/tmp/init.sql
  root_pw=$(q "$MYSQL_ROOT_PASSWORD")
  {
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';"
    echo "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$root_pw';"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "$MYSQL_DATABASE" ]; then echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"; fi
    if [ -n "$MYSQL_USER" ] && [ "$MYSQL_USER" != root ]; then
      echo "CREATE USER IF NOT EXISTS '$MYSQL_USER'@'%' IDENTIFIED BY '$(q "$MYSQL_PASSWORD")';"
      echo "GRANT ALL ON *.* TO '$MYSQL_USER'@'%' WITH GRANT OPTION;"
    fi
    echo "FLUSH PRIVILEGES;"
  } > "$init"
  set -- --init-file="$init" "$@"
fi
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 \
  --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci "$@"
"""


class LocalCloudError(Exception):
    """A failure with a message that says what to do."""


def say(message: str) -> None:
    print(f"local-cloud: {message}", flush=True)


def run(cmd, check=True, capture=True, env=None, timeout=None, **kwargs):
    result = subprocess.run(
        cmd,
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        env=env,
        timeout=timeout,
        **kwargs,
    )
    if check and result.returncode != 0:
        output = (result.stdout or "").strip()[-2000:]
        raise LocalCloudError(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n{output}")
    return result


def pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def stop_pid(pidfile: Path, name: str, timeout: float = 20.0) -> None:
    pid = pid_alive(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return
    say(f"stopping {name} (pid {pid})")
    os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, 9)
    pidfile.unlink(missing_ok=True)


# --------------------------------------------------------------------------- docker engine


def docker_env(host: str | None) -> dict:
    env = dict(os.environ)
    if host:
        env["DOCKER_HOST"] = host
    env["DOCKER_BUILDKIT"] = "0"
    return env


def docker_cli() -> str:
    cli = shutil.which("docker")
    if not cli:
        raise LocalCloudError("no `docker` command: install Docker (Debian: apt-get install docker.io)")
    return cli


def engine_answers(host: str | None) -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return (
            run(
                [docker_cli(), "info", "--format", "{{.ServerVersion}}"], check=False, env=docker_env(host), timeout=15
            ).returncode
            == 0
        )
    except subprocess.TimeoutExpired:
        return False


def private_engine_host() -> str:
    return f"unix://{DOCKER_SOCK}"


def find_engine() -> str | None:
    """The engine in use: ours if running, else the user's (DOCKER_HOST or the default socket)."""
    if pid_alive(DOCKER_PID) and engine_answers(private_engine_host()):
        return private_engine_host()
    user_host = os.environ.get("DOCKER_HOST")
    if engine_answers(user_host):
        return user_host or "unix:///var/run/docker.sock"
    return None


def apt_install(packages: list[str]) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise LocalCloudError(
            f"missing {', '.join(packages)}: install them (Debian/Ubuntu: apt-get install {' '.join(packages)}), "
            "or start Docker yourself so that `docker info` works"
        )
    say(f"installing Debian packages: {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = run(["apt-get", "install", "-y", "-q", *packages], check=False, env=env)
    if result.returncode != 0:
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", *packages], env=env)


def start_private_engine() -> str:
    if sys.platform != "linux" or os.geteuid() != 0:
        raise LocalCloudError(
            "no Docker engine answers. Start Docker Desktop (or your docker service) so that `docker info` works, "
            "then run `make local-up` again"
        )
    if not shutil.which("dockerd"):
        apt_install(["docker.io"])
    for path in (RUN, DOCKER_EXEC, DOCKER_DATA, LOGS):
        path.mkdir(parents=True, exist_ok=True)
    DOCKER_SOCK.unlink(missing_ok=True)
    say(f"starting a private Docker engine (socket {DOCKER_SOCK}, data {DOCKER_DATA})")
    log = open(LOGS / "dockerd.log", "ab")  # noqa: SIM115 - handed to the daemon
    cmd = [
        "dockerd",
        "--data-root",
        str(DOCKER_DATA),
        "--exec-root",
        str(DOCKER_EXEC),
        "--pidfile",
        str(DOCKER_PID),
        "-H",
        private_engine_host(),
        "--storage-driver=overlay2",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
    ]
    subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    host = private_engine_host()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if DOCKER_SOCK.exists() and engine_answers(host):
            return host
        time.sleep(0.5)
    raise LocalCloudError(f"the private Docker engine did not answer within 60 s; see {LOGS / 'dockerd.log'}")


def ensure_engine() -> str:
    host = find_engine()
    if host:
        say(f"Docker engine: {host}")
        return host
    host = start_private_engine()
    say(f"Docker engine: {host} (private dockerd)")
    return host


# --------------------------------------------------------------------------- images


def image_exists(host: str, image: str) -> bool:
    return run([docker_cli(), "image", "inspect", image], check=False, env=docker_env(host)).returncode == 0


def try_pull(host: str, image: str) -> bool:
    try:
        return run([docker_cli(), "pull", "-q", image], check=False, env=docker_env(host), timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def debian_mirror() -> str:
    """The Debian mirror apt is configured with (deb822 or one-line sources)."""
    sources = [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]
    sources += sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for src in sources:
        try:
            text = src.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("URIs:"):
                uri = line.split()[1]
                if "security" not in uri:
                    return uri
            if line.startswith("deb ") and "security" not in line:
                parts = [p for p in line.split() if not p.startswith("[")]
                if len(parts) > 1:
                    return parts[1]
    return "http://deb.debian.org/debian"


def build_standin(host: str, image: str, packages: list[str], changes: list[str], customize) -> None:
    if not shutil.which("debootstrap"):
        apt_install(["debootstrap"])
    with tempfile.TemporaryDirectory(prefix="standin-", dir=str(STATE)) as tmp:
        rootfs = Path(tmp) / "rootfs"
        say(f"building the offline stand-in for {image} from Debian packages (about 1-2 minutes, cached afterwards)")
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(packages)}",
                "bookworm",
                str(rootfs),
                debian_mirror(),
            ],
            timeout=1200,
        )
        customize(rootfs)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        import_cmd = [docker_cli(), "import"]
        for change in [*changes, f"LABEL {STANDIN_LABEL}={STANDIN_VERSION}"]:
            import_cmd += ["--change", change]
        import_cmd += ["-", image]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        result = subprocess.run(import_cmd, stdin=tar.stdout, env=docker_env(host), capture_output=True, text=True)
        tar.wait()
        if result.returncode != 0:
            raise LocalCloudError(f"docker import of {image} failed: {result.stderr.strip()}")


def customize_python(rootfs: Path) -> None:
    # Behave like the official image: pip may install into the system Python.
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    (rootfs / "usr/local/bin").mkdir(parents=True, exist_ok=True)
    python = rootfs / "usr/local/bin/python"
    if not python.exists():
        python.symlink_to("/usr/bin/python3")


def customize_mysql(rootfs: Path) -> None:
    entry = rootfs / "usr/local/bin/docker-entrypoint.sh"
    entry.write_text(MYSQL_ENTRYPOINT)
    entry.chmod(0o755)


def ensure_images(host: str) -> None:
    specs = [
        (
            PYTHON_IMAGE,
            PYTHON_STANDIN_PACKAGES,
            # Offline: requirements must already be satisfied by the Debian packages
            # (whose own dependency pins are looser than pip's resolver likes).
            ["ENV PIP_NO_INDEX=1", "ENV PIP_NO_DEPS=1", "ENV PYTHONUNBUFFERED=1", 'CMD ["python3"]'],
            customize_python,
        ),
        (
            MYSQL_IMAGE,
            MYSQL_STANDIN_PACKAGES,
            ['ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]', "EXPOSE 3306"],
            customize_mysql,
        ),
    ]
    for image, packages, changes, customize in specs:
        if image_exists(host, image):
            version = standin_version(host, image)
            if version in ("", STANDIN_VERSION):
                say(f"image {image}: present ({'offline stand-in' if version else 'pulled'})")
                continue
            say(f"image {image}: cached stand-in is outdated (version {version}); rebuilding")
            run([docker_cli(), "rmi", "-f", image], check=False, env=docker_env(host))
        if try_pull(host, image):
            say(f"image {image}: pulled from its registry")
            continue
        say(f"image {image}: cannot be pulled (no registry reachable); using an offline stand-in")
        build_standin(host, image, packages, changes, customize)
        say(f"image {image}: offline stand-in built and cached in {DOCKER_DATA}")


def standin_version(host: str, image: str) -> str:
    """The stand-in recipe version of a local image; empty for a pulled image."""
    result = run(
        [docker_cli(), "image", "inspect", "--format", "{{ json .Config.Labels }}", image],
        check=False,
        env=docker_env(host),
    )
    try:
        labels = json.loads(result.stdout or "null") or {}
    except ValueError:
        labels = {}
    return labels.get(STANDIN_LABEL, "")


def is_standin(host: str, image: str) -> bool:
    return bool(standin_version(host, image))


# --------------------------------------------------------------------------- ministack


def ministack_answers() -> bool:
    try:
        with urllib.request.urlopen(HEALTH_URL, timeout=2) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def ensure_ministack_venv() -> Path:
    python = MINISTACK_VENV / "bin/python"
    stamp = MINISTACK_VENV / ".requirements"
    wanted = "\n".join(MINISTACK_REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    say(f"installing MiniStack {MINISTACK_VERSION} into {MINISTACK_VENV}")
    if MINISTACK_VENV.exists():
        shutil.rmtree(MINISTACK_VENV)
    run([sys.executable, "-m", "venv", str(MINISTACK_VENV)])
    run([str(python), "-m", "pip", "install", "-q", *MINISTACK_REQUIREMENTS], timeout=900)
    stamp.write_text(wanted)
    return python


def start_ministack(engine_host: str) -> None:
    python = ensure_ministack_venv()
    if ministack_answers():
        if pid_alive(MINISTACK_PID):
            say(f"MiniStack: already answering at {ENDPOINT}")
            return
        raise LocalCloudError(
            f"something else answers at {ENDPOINT} (not started by this tool). Stop it (a LocalStack or MiniStack "
            "container?) and run `make local-up` again"
        )
    for path in (RUN, LOGS):
        path.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        GATEWAY_PORT=str(PORT),
        BIND_HOST="127.0.0.1",
        MINISTACK_HOST=BRIDGE_GATEWAY,
        MINISTACK_REGION=REGION,
        RDS_BASE_PORT=str(RDS_BASE_PORT),
        DOCKER_HOST=engine_host,
        LOG_LEVEL="INFO",
        TMPDIR=str(STATE),
    )
    say(f"starting MiniStack {MINISTACK_VERSION} at {ENDPOINT}")
    log = open(LOGS / "ministack.log", "ab")  # noqa: SIM115 - handed to the daemon
    proc = subprocess.Popen(
        [str(python), "-m", "ministack"],
        env=env,
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    MINISTACK_PID.write_text(str(proc.pid))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalCloudError(f"MiniStack exited with code {proc.returncode}; see {LOGS / 'ministack.log'}")
        if ministack_answers():
            return
        time.sleep(0.3)
    raise LocalCloudError(f"MiniStack did not answer within 60 s; see {LOGS / 'ministack.log'}")


def localstack_tool():
    """tools/localstack/localstack.py: start_pro() / stop_pro() run LocalStack with a paid plan."""
    path = Path(__file__).resolve().parents[1] / "localstack" / "localstack.py"
    spec = importlib.util.spec_from_file_location("outsource_localstack", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_localstack_pro(engine_host: str) -> None:
    tool = localstack_tool()
    try:
        tool.start_pro(LOCALSTACK_AUTH_TOKEN, engine_host, PORT)
    except tool.LocalStackError as exc:
        raise LocalCloudError(str(exc)) from exc


def remove_cloud_containers(host: str) -> None:
    """Remove the task and database containers our MiniStack started (and no one else's)."""
    ours = f"label=ministack.instance={socket.gethostname()}:{PORT}"
    result = run([docker_cli(), "ps", "-aq", "--filter", ours], check=False, env=docker_env(host))
    ids = sorted(set(result.stdout.split())) if result.returncode == 0 else []
    if ids:
        say(f"removing {len(ids)} container(s) of the local cloud")
        run([docker_cli(), "rm", "-f", "-v", *ids], check=False, env=docker_env(host))


# --------------------------------------------------------------------------- commands


def cmd_up(_args) -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    host = ensure_engine()
    ensure_images(host)
    if LOCALSTACK_AUTH_TOKEN:
        start_localstack_pro(host)
    else:
        start_ministack(host)
    (STATE / "engine").write_text(host)
    say(f"ready: AWS endpoint {ENDPOINT} (region {REGION}), Docker engine {host}")
    return 0


def cmd_down(_args) -> int:
    private = pid_alive(DOCKER_PID) is not None
    host = private_engine_host() if private else find_engine()
    stop_pid(MINISTACK_PID, "MiniStack")
    if host and engine_answers(host):
        localstack_tool().stop_pro(host)
        remove_cloud_containers(host)
    if private:
        stop_pid(DOCKER_PID, "the private Docker engine", timeout=30)
        cleanup_private_engine()
    (STATE / "engine").unlink(missing_ok=True)
    say("down: nothing of the local cloud is running")
    return 0


def cleanup_private_engine() -> None:
    # Leave no mount and no docker0 link behind.
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        mounts = []
    targets = [line.split()[1] for line in mounts if len(line.split()) > 1]
    ours = [t for t in targets if t.startswith((str(DOCKER_DATA), str(DOCKER_EXEC), str(RUN)))]
    for target in sorted(ours, key=len, reverse=True):
        run(["umount", "-l", target], check=False)
    if shutil.which("ip") and run(["ip", "link", "show", "docker0"], check=False).returncode == 0:
        run(["ip", "link", "delete", "docker0"], check=False)
    DOCKER_SOCK.unlink(missing_ok=True)
    shutil.rmtree(DOCKER_EXEC, ignore_errors=True)


def cmd_status(_args) -> int:
    host = find_engine()
    ms = ministack_answers()
    print(f"AWS endpoint : {ENDPOINT} ({'answering' if ms else 'not running'})")
    print(f"region       : {REGION}")
    if host:
        kind = "private dockerd" if host == private_engine_host() else "your Docker engine"
        print(f"Docker engine: {host} ({kind})")
        for image in (PYTHON_IMAGE, MYSQL_IMAGE):
            if image_exists(host, image):
                kind = "offline stand-in" if is_standin(host, image) else "pulled"
                print(f"image        : {image} ({kind})")
            else:
                print(f"image        : {image} (missing: `make local-up` provides it)")
        result = run(
            [docker_cli(), "ps", "--format", "{{.Names}}\t{{.Image}}\t{{.Status}}"], check=False, env=docker_env(host)
        )
        lines = [line for line in (result.stdout or "").splitlines() if line.strip()]
        print(f"containers   : {len(lines)} running")
        for line in lines:
            print(f"  {line}")
    else:
        print("Docker engine: not running")
    return 0 if (host and ms) else 3


def cmd_env(_args) -> int:
    host = find_engine() or private_engine_host()
    print(f"export AWS_ENDPOINT_URL={ENDPOINT}")
    print(f"export AWS_REGION={REGION}")
    print("export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test")
    print(f"export DOCKER_HOST={host}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("up", cmd_up, "start the local cloud (idempotent)"),
        ("down", cmd_down, "stop the local cloud and clean up"),
        ("status", cmd_status, "show the endpoint, engine and images"),
        ("env", cmd_env, "print shell exports for the local cloud"),
    ):
        sub.add_parser(name, help=text).set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LocalCloudError as exc:
        print(f"local-cloud: ERROR: {exc}", file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired as exc:
        print(f"local-cloud: ERROR: timed out: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
