# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

import boto3
import pytest
from ansible_collections.outsource.deploy.plugins.modules import ecr_image_tag
from conftest import ecr_push
from moto import mock_aws

REPOSITORY = "outsource-api"


@pytest.fixture
def ecr():
    with mock_aws():
        client = boto3.client("ecr", region_name="us-east-1")
        client.create_repository(repositoryName=REPOSITORY)
        yield client


def digest_of(ecr, tag):
    images = ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])["images"]
    return images[0]["imageId"]["imageDigest"] if images else None


ARGS = {"repository_name": REPOSITORY, "source_tag": "new", "tags": ["latest"]}


def test_adds_a_missing_tag_then_changes_nothing(ecr, run_module):
    digest = ecr_push(ecr, REPOSITORY, "new", "a")

    first = run_module(ecr_image_tag, ARGS)
    second = run_module(ecr_image_tag, ARGS)

    assert first["changed"] is True
    assert first["tagged"] == ["latest"]
    assert first["image_digest"] == digest
    assert digest_of(ecr, "latest") == digest
    assert second["changed"] is False
    assert second["tagged"] == []


def test_moves_a_tag_that_names_another_image(ecr, run_module):
    ecr_push(ecr, REPOSITORY, "old", "b")
    ecr_push(ecr, REPOSITORY, "latest", "b")
    digest = ecr_push(ecr, REPOSITORY, "new", "a")

    result = run_module(ecr_image_tag, ARGS)

    assert result["changed"] is True
    assert digest_of(ecr, "latest") == digest
    assert digest_of(ecr, "old") != digest


def test_check_mode_reports_without_tagging(ecr, run_module):
    ecr_push(ecr, REPOSITORY, "new", "a")

    result = run_module(ecr_image_tag, {**ARGS, "_ansible_check_mode": True})

    assert result["changed"] is True
    assert result["tagged"] == ["latest"]
    assert digest_of(ecr, "latest") is None


def test_missing_source_tag_fails_with_the_fix(ecr, run_module):
    result = run_module(ecr_image_tag, ARGS)

    assert result["failed"] is True
    assert "no image tagged 'new'" in result["msg"]
    assert "Push the image first" in result["msg"]


def test_missing_repository_fails_with_the_fix(ecr, run_module):
    result = run_module(ecr_image_tag, {**ARGS, "repository_name": "nope"})

    assert result["failed"] is True
    assert "does not exist" in result["msg"]
