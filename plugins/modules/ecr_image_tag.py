#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules start with their documentation; the imports follow it.

DOCUMENTATION = r"""
---
module: ecr_image_tag
version_added: 0.1.0
short_description: Put an image of an ECR repository under more tags, without Docker
description:
  - Looks up the image tagged O(source_tag) (C(ecr:DescribeImages)); for each of O(tags) it does not carry yet, reads
    its manifest (C(ecr:BatchGetImage)) and puts it under that tag (C(ecr:PutImage)), like C(docker tag) and
    C(docker push) would, but without pulling the image.
  - A tag that already names the same image is left alone, so a second run makes one request and reports no change.
  - A tag that names another image is moved to this one (the repository must allow mutable tags).
author:
  - outsource.deploy contributors
options:
  source_tag:
    description:
      - The tag of the image to tag again.
    type: str
    required: true
  tags:
    description:
      - The tags to put on that image, for example V(latest).
    type: list
    elements: str
    required: true
notes:
  - Needs C(ecr:DescribeImages), C(ecr:BatchGetImage) and C(ecr:PutImage).
  - Supports check mode; then it only reports which tags it would move.
extends_documentation_fragment:
  - outsource.deploy.ecr_repository
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Point latest at the image of the content tag
  outsource.deploy.ecr_image_tag:
    repository_name: outsource-api
    source_tag: 3f9a2c4b7d1e
    tags:
      - latest
"""

RETURN = r"""
image_digest:
  description: Digest of the image of O(source_tag).
  returned: always
  type: str
  sample: sha256:82647984ecf975f37e51c62c849fc5855f6407d172d998d9afc1bcf10dc04666
tagged:
  description: The tags of O(tags) that were put on the image (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [latest]
"""

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

ACCESS_HELP = (
    "Check that the AWS credentials are valid (AWS Academy credentials expire when the lab session ends) and "
    "allow ecr:DescribeImages, ecr:BatchGetImage and ecr:PutImage"
)


class ImageTagger:
    def __init__(self, module):
        self.module = module
        self.name = module.params["repository_name"]
        self.ids = {"registryId": module.params["registry_id"]} if module.params.get("registry_id") else {}
        self.client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())

    def fail_read(self, e):
        self.module.fail_json_aws(e, msg=f"Could not read images of the ECR repository '{self.name}'. {ACCESS_HELP}")

    def missing(self, source_tag):
        self.module.fail_json(
            msg=f"The ECR repository '{self.name}' has no image tagged '{source_tag}', so there is nothing to tag. "
            "Push the image first (the ecr_image role does), then run again."
        )

    def source_image(self, source_tag):
        """The image detail (digest and all its tags) of the source tag."""
        try:
            response = self.client.describe_images(
                aws_retry=True, repositoryName=self.name, imageIds=[{"imageTag": source_tag}], **self.ids
            )
        except is_boto3_error_code("RepositoryNotFoundException"):
            self.module.fail_json(
                msg=f"The ECR repository '{self.name}' does not exist. Create it and push the image first "
                "(the ecr_image role does both)."
            )
        except is_boto3_error_code("ImageNotFoundException"):  # pylint: disable=duplicate-except
            self.missing(source_tag)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.fail_read(e)
        for detail in response.get("imageDetails") or []:
            if source_tag in (detail.get("imageTags") or []):
                return detail
        self.missing(source_tag)

    def manifest(self, digest):
        """(manifest, media type) of the image with this digest."""
        try:
            response = self.client.batch_get_image(
                aws_retry=True, repositoryName=self.name, imageIds=[{"imageDigest": digest}], **self.ids
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail_read(e)
        images = response.get("images") or []
        if not images:
            self.module.fail_json(msg=f"The image {digest} of '{self.name}' disappeared while tagging it; run again.")
        return images[0]["imageManifest"], images[0].get("imageManifestMediaType")

    def put(self, tag, manifest, media_type, source_tag):
        params = dict(repositoryName=self.name, imageManifest=manifest, imageTag=tag, **self.ids)
        if media_type:
            params["imageManifestMediaType"] = media_type
        try:
            self.client.put_image(aws_retry=True, **params)
        except is_boto3_error_code("ImageAlreadyExistsException"):
            return
        except is_boto3_error_code("ImageTagAlreadyExistsException") as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(
                e,
                msg=f"The tag '{tag}' already names another image and the repository '{self.name}' has immutable "
                "tags. Make its tags mutable (ECR console: Edit repository) or use another tag",
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(
                e, msg=f"Could not tag the image of '{source_tag}' as '{tag}' in '{self.name}'. {ACCESS_HELP}"
            )

    def run(self):
        source_tag = self.module.params["source_tag"]
        tags = list(dict.fromkeys(t for t in self.module.params["tags"] if t and t != source_tag))
        source = self.source_image(source_tag)
        digest = source.get("imageDigest")
        moving = [t for t in tags if t not in (source.get("imageTags") or [])]
        if moving and not self.module.check_mode:
            manifest, media_type = self.manifest(digest)
            for tag in moving:
                self.put(tag, manifest, media_type, source_tag)
        return dict(changed=bool(moving), image_digest=digest, tagged=moving)


def main():
    argument_spec = dict(
        repository_name=dict(type="str", required=True),
        source_tag=dict(type="str", required=True),
        tags=dict(type="list", elements="str", required=True),
        registry_id=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    module.exit_json(**ImageTagger(module).run())


if __name__ == "__main__":
    main()
