# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared pytest setup for the module unit tests.

- Puts ``<repo>/collections`` on sys.path so that ``ansible_collections.outsource.deploy`` (a committed
  symlink to the repository root) imports next to the amazon.aws collection of the virtualenv.
- Gives boto3 fake credentials and a region, and removes any endpoint or profile from the environment,
  so that every AWS call goes to moto.
- ``run_module`` runs a module's ``main()`` in-process and returns its result dict.
- ``ecr_push`` puts an image manifest into a (moto) ECR repository, as a docker push ends.
"""

import contextlib
import json
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_PATH = str(REPO_ROOT / "collections")
if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)

REGION = "us-east-1"

# Set before boto3 is imported by any test module.
os.environ["AWS_DEFAULT_REGION"] = REGION
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"

from ansible.module_utils import basic  # noqa: E402

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19

    @contextlib.contextmanager
    def patch_module_args(args=None):
        serialized = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode("utf-8")
        previous = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = serialized
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = previous


_AWS_ENV_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_URL",
    "EC2_URL",
    "AWS_REGION",
    "AWS_SECURITY_TOKEN",
    "AWS_CA_BUNDLE",
)


@pytest.fixture(autouse=True)
def aws_test_environment(monkeypatch):
    """Fake credentials and region; no profile or endpoint that could send calls past moto."""
    for name in _AWS_ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")


class ModuleExit(Exception):
    """Raised instead of exiting when a module calls exit_json or fail_json."""

    def __init__(self, result):
        super().__init__(result.get("msg", ""))
        self.result = result


@pytest.fixture
def run_module(monkeypatch):
    """Run ``module.main()`` with ``args``; return the result dict (``failed`` is True on fail_json)."""

    def exit_json(self, **kwargs):
        kwargs.setdefault("failed", False)
        raise ModuleExit(kwargs)

    def fail_json(self, msg=None, **kwargs):
        kwargs["msg"] = msg
        kwargs["failed"] = True
        raise ModuleExit(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def _run(module, args):
        with patch_module_args(args), pytest.raises(ModuleExit) as caught:
            module.main()
        return caught.value.result

    return _run


def ecr_push(client, repository, tag, layer="a"):
    """Put an image manifest under ``tag`` in ``repository`` (what docker push ends with); returns its digest.

    moto derives the digest from the layers: a different ``layer`` letter gives a different image.
    """
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "digest": f"sha256:{layer * 64}",
            "size": 10,
            "mediaType": "application/vnd.docker.container.image.v1+json",
        },
        "layers": [
            {"digest": f"sha256:{layer * 64}", "size": 5, "mediaType": "application/vnd.docker.image.rootfs.diff.tar"}
        ],
    }
    image = client.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
    return image["image"]["imageId"]["imageDigest"]
