#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules start with their documentation; the imports follow it.

DOCUMENTATION = r"""
---
module: ecr_image_info
version_added: 0.1.0
short_description: Find an ECR repository and whether it holds given image tags
description:
  - Looks up one Amazon ECR repository (C(ecr:DescribeRepositories)) and, when it exists, which of the given image
    tags it holds (C(ecr:DescribeImages)), in one task.
  - A missing repository is not an error; RV(repository_exists) is then V(false) and every tag is in
    RV(missing_tags).
  - Use it to skip a build and push when the repository already holds the image, and to skip converging the
    repository when its settings are already right.
  - This module only reads; it never reports a change.
author:
  - outsource.deploy contributors
options:
  image_tags:
    description:
      - The image tags to look for.
      - When empty, only the repository is looked up.
    type: list
    elements: str
    default: []
notes:
  - Needs C(ecr:DescribeRepositories) and C(ecr:DescribeImages).
extends_documentation_fragment:
  - outsource.deploy.ecr_repository
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Look for the image tag in the repository
  outsource.deploy.ecr_image_info:
    repository_name: outsource-api
    image_tags:
      - 3f9a2c4b7d1e
  register: found

- name: Build and push only when the tag is missing
  ansible.builtin.debug:
    msg: "{{ found.repository.repository_uri }}:3f9a2c4b7d1e must be built and pushed"
  when: "'3f9a2c4b7d1e' in found.missing_tags"

- name: Only check that the repository exists
  outsource.deploy.ecr_image_info:
    repository_name: outsource-api
  register: repository
"""

RETURN = r"""
repository_exists:
  description: Whether the repository exists.
  returned: always
  type: bool
  sample: true
repository:
  description:
    - The repository as C(ecr:DescribeRepositories) returns it, in snake_case; V({}) when it does not exist.
  returned: always
  type: dict
  contains:
    repository_name:
      description: Name of the repository.
      returned: when the repository exists
      type: str
      sample: outsource-api
    repository_uri:
      description: URI of the repository (C(<registry host>/<name>)), the name of its images without the tag.
      returned: when the repository exists
      type: str
      sample: 123456789012.dkr.ecr.us-east-1.amazonaws.com/outsource-api
    repository_arn:
      description: ARN of the repository.
      returned: when the repository exists
      type: str
      sample: arn:aws:ecr:us-east-1:123456789012:repository/outsource-api
    registry_id:
      description: AWS account ID of the registry.
      returned: when the repository exists
      type: str
      sample: "123456789012"
    image_tag_mutability:
      description: V(MUTABLE) or V(IMMUTABLE).
      returned: when the repository exists
      type: str
      sample: MUTABLE
    image_scanning_configuration:
      description: The scan settings of the repository.
      returned: when the repository exists
      type: dict
      contains:
        scan_on_push:
          description: Whether images are scanned when they are pushed.
          returned: when the repository exists
          type: bool
          sample: true
registry:
  description:
    - The registry host of the repository (RV(repository.repository_uri) up to the first C(/)), or V(null).
  returned: always
  type: str
  sample: 123456789012.dkr.ecr.us-east-1.amazonaws.com
images:
  description: The images that carry one of O(image_tags), in snake_case, once each.
  returned: always
  type: list
  elements: dict
  contains:
    image_digest:
      description: Digest of the image manifest.
      returned: always
      type: str
      sample: sha256:82647984ecf975f37e51c62c849fc5855f6407d172d998d9afc1bcf10dc04666
    image_tags:
      description: All tags of the image.
      returned: always
      type: list
      elements: str
      sample: [3f9a2c4b7d1e, latest]
    image_pushed_at:
      description: When the image was pushed (ISO 8601).
      returned: always
      type: str
      sample: "2026-12-03T19:19:54+00:00"
    image_size_in_bytes:
      description: Size of the image in the repository.
      returned: always
      type: int
      sample: 52428800
found_tags:
  description: The tags of O(image_tags) that the repository holds, in the order given.
  returned: always
  type: list
  elements: str
  sample: [3f9a2c4b7d1e]
missing_tags:
  description: The tags of O(image_tags) that the repository does not hold (all of them when it does not exist).
  returned: always
  type: list
  elements: str
  sample: []
"""

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

ACCESS_HELP = (
    "Check that the AWS credentials are valid (AWS Academy credentials expire when the lab session ends) and "
    "allow ecr:DescribeRepositories and ecr:DescribeImages"
)


def to_snake(data):
    """camelCase AWS dict -> snake_case, with datetimes as ISO 8601 strings."""
    plain = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
    return camel_dict_to_snake_dict(plain)


class ImageFinder:
    def __init__(self, module):
        self.module = module
        self.name = module.params["repository_name"]
        self.ids = {"registryId": module.params["registry_id"]} if module.params.get("registry_id") else {}
        self.client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())

    def repository(self):
        try:
            response = self.client.describe_repositories(aws_retry=True, repositoryNames=[self.name], **self.ids)
        except is_boto3_error_code("RepositoryNotFoundException"):
            return {}
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(e, msg=f"Could not look up the ECR repository '{self.name}'. {ACCESS_HELP}")
        repositories = response.get("repositories") or []
        return repositories[0] if repositories else {}

    def images(self, tags):
        """The image details of the tags the repository holds (unknown tags are left out)."""
        found = {}
        for tag in tags:
            try:
                response = self.client.describe_images(
                    aws_retry=True, repositoryName=self.name, imageIds=[{"imageTag": tag}], **self.ids
                )
            except is_boto3_error_code(["ImageNotFoundException", "RepositoryNotFoundException"]):
                continue
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
                self.module.fail_json_aws(
                    e, msg=f"Could not look for the tag '{tag}' in the ECR repository '{self.name}'. {ACCESS_HELP}"
                )
            for detail in response.get("imageDetails") or []:
                # Emulators may answer an unknown tag with every image: keep only images that carry it.
                if tag in (detail.get("imageTags") or []):
                    found.setdefault(detail.get("imageDigest"), detail)
        return list(found.values())

    def run(self):
        tags = [t for t in self.module.params["image_tags"] if t]
        repository = self.repository()
        images = self.images(tags) if repository and tags else []
        held = {t for image in images for t in image.get("imageTags") or []}
        uri = repository.get("repositoryUri") or ""
        return dict(
            changed=False,
            repository_exists=bool(repository),
            repository=to_snake(repository) if repository else {},
            registry=uri.split("/", 1)[0] if uri else None,
            images=[to_snake(i) for i in images],
            found_tags=[t for t in tags if t in held],
            missing_tags=[t for t in tags if t not in held],
        )


def main():
    argument_spec = dict(
        repository_name=dict(type="str", required=True),
        image_tags=dict(type="list", elements="str", default=[]),
        registry_id=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    module.exit_json(**ImageFinder(module).run())


if __name__ == "__main__":
    main()
