# -*- coding: utf-8 -*-

# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The repository options of the ECR image modules (ecr_image_info, ecr_image_tag).
    DOCUMENTATION = r"""
options:
  repository_name:
    description:
      - Name of the ECR repository.
    type: str
    required: true
  registry_id:
    description:
      - AWS account ID of the registry that holds the repository.
      - By default the registry of the account of the credentials.
    type: str
"""
