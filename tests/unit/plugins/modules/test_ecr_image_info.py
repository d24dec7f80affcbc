# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

import boto3
import botocore.client
import botocore.exceptions
import pytest
from ansible_collections.outsource.deploy.plugins.modules import ecr_image_info
from conftest import ecr_push
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

REPOSITORY = "outsource-api"
REGISTRY = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture
def ecr():
    with mock_aws():
        yield boto3.client("ecr", region_name="us-east-1")


def test_missing_repository_is_not_an_error(ecr, run_module):
    result = run_module(ecr_image_info, {"repository_name": REPOSITORY, "image_tags": ["abc123"]})

    assert result["failed"] is False
    assert result["changed"] is False
    assert result["repository_exists"] is False
    assert result["repository"] == {}
    assert result["registry"] is None
    assert result["images"] == []
    assert result["found_tags"] == []
    assert result["missing_tags"] == ["abc123"]


def test_repository_without_the_tag(ecr, run_module):
    ecr.create_repository(repositoryName=REPOSITORY, imageScanningConfiguration={"scanOnPush": True})
    ecr_push(ecr, REPOSITORY, "older")

    result = run_module(ecr_image_info, {"repository_name": REPOSITORY, "image_tags": ["abc123"]})

    assert result["repository_exists"] is True
    assert result["repository"]["repository_uri"] == f"{REGISTRY}/{REPOSITORY}"
    assert result["repository"]["image_scanning_configuration"] == {"scan_on_push": True}
    assert result["repository"]["image_tag_mutability"] == "MUTABLE"
    assert result["registry"] == REGISTRY
    assert result["images"] == []
    assert result["missing_tags"] == ["abc123"]


def test_finds_the_tag_and_reports_the_image_once(ecr, run_module):
    ecr.create_repository(repositoryName=REPOSITORY)
    digest = ecr_push(ecr, REPOSITORY, "abc123")
    ecr.put_image(
        repositoryName=REPOSITORY,
        imageManifest=ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": "abc123"}])["images"][0][
            "imageManifest"
        ],
        imageTag="latest",
    )
    ecr_push(ecr, REPOSITORY, "other", layer="b")

    result = run_module(ecr_image_info, {"repository_name": REPOSITORY, "image_tags": ["abc123", "latest", "nope"]})

    assert result["found_tags"] == ["abc123", "latest"]
    assert result["missing_tags"] == ["nope"]
    assert [i["image_digest"] for i in result["images"]] == [digest]
    assert sorted(result["images"][0]["image_tags"]) == ["abc123", "latest"]
    assert isinstance(result["images"][0]["image_pushed_at"], str)


def test_without_tags_only_the_repository_is_read(ecr, run_module):
    ecr.create_repository(repositoryName=REPOSITORY)
    ecr_push(ecr, REPOSITORY, "abc123")

    result = run_module(ecr_image_info, {"repository_name": REPOSITORY})

    assert result["repository_exists"] is True
    assert result["images"] == [] and result["found_tags"] == [] and result["missing_tags"] == []


def test_a_denied_repository_lookup_fails_with_the_fix(ecr, run_module, monkeypatch):
    real_call = botocore.client.BaseClient._make_api_call

    def call(self, operation, params):
        if operation == "DescribeRepositories":
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "User is not authorized"}}, operation
            )
        return real_call(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    result = run_module(ecr_image_info, {"repository_name": REPOSITORY, "image_tags": ["abc123"]})

    assert result["failed"] is True
    assert "ecr:DescribeRepositories" in result["msg"]
    assert "User is not authorized" in result["msg"]
    assert "Traceback" not in result["msg"]
