#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible modules start with their documentation; the imports follow it.

DOCUMENTATION = r"""
---
module: ecr_authorization_token_info
version_added: 0.1.0
short_description: Get a Docker login (user name and password) for Amazon ECR
description:
  - Calls the ECR C(GetAuthorizationToken) API and returns the registry host, the user name and the decoded
    password that C(docker login) needs, like C(aws ecr get-login-password) does.
  - The password is valid for 12 hours.
  - "B(The result contains a secret.) Ansible cannot hide values of a module result that a module marks as
    secret without also hiding them from the tasks that need them, so this module does not hide the password.
    The task that calls it B(must) set C(no_log: true), and the registered result must only be passed to
    M(community.docker.docker_login) in a task that also has C(no_log: true)."
author:
  - outsource.deploy contributors
options:
  registry_ids:
    description:
      - AWS account IDs of the registries to get a login for.
      - By default the registry of the account of the credentials.
      - The first registry is returned at the top level; all of them are in RV(authorizations).
    type: list
    elements: str
notes:
  - Needs C(ecr:GetAuthorizationToken).
  - "Always set C(no_log: true) on the task that calls this module and on every task that uses its result."
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# The result holds a password: every task that touches it has no_log: true.
- name: Get a Docker login for ECR
  outsource.deploy.ecr_authorization_token_info:
  register: ecr_login
  no_log: true

- name: Log Docker in to ECR
  community.docker.docker_login:
    registry_url: "{{ ecr_login.registry }}"
    username: "{{ ecr_login.username }}"
    password: "{{ ecr_login.password }}"
    reauthorize: true
  no_log: true

- name: Get a login for the registry of another account
  outsource.deploy.ecr_authorization_token_info:
    registry_ids:
      - "123456789012"
  register: ecr_login_other
  no_log: true
"""

RETURN = r"""
registry:
  description: The registry host name, without C(https://), as C(docker login) and image names use it.
  returned: success
  type: str
  sample: 123456789012.dkr.ecr.us-east-1.amazonaws.com
proxy_endpoint:
  description: The registry URL as ECR returns it.
  returned: success
  type: str
  sample: https://123456789012.dkr.ecr.us-east-1.amazonaws.com
username:
  description: The user name for C(docker login), always C(AWS) on AWS.
  returned: success
  type: str
  sample: AWS
password:
  description:
    - The password for C(docker login) (the decoded token). A secret, valid for 12 hours.
    - "Use C(no_log: true) on every task that registers or uses it."
  returned: success
  type: str
  sample: eyJwYXlsb2FkIjoi...
expires_at:
  description: When the password expires (ISO 8601).
  returned: success
  type: str
  sample: "2026-12-04T04:24:05.123000+00:00"
authorizations:
  description: One login per registry, in the order ECR returned them (one unless O(registry_ids) names more).
  returned: success
  type: list
  elements: dict
  contains:
    registry:
      description: The registry host name, without C(https://).
      returned: always
      type: str
      sample: 123456789012.dkr.ecr.us-east-1.amazonaws.com
    proxy_endpoint:
      description: The registry URL as ECR returns it.
      returned: always
      type: str
      sample: https://123456789012.dkr.ecr.us-east-1.amazonaws.com
    username:
      description: The user name for C(docker login).
      returned: always
      type: str
      sample: AWS
    password:
      description: The password for C(docker login). A secret.
      returned: always
      type: str
      sample: eyJwYXlsb2FkIjoi...
    expires_at:
      description: When the password expires (ISO 8601).
      returned: always
      type: str
      sample: "2026-12-04T04:24:05.123000+00:00"
"""

import base64
import binascii

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


class TokenDecodeError(Exception):
    pass


def decode_token(token):
    """'base64(user:password)' -> (user, password)."""
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, TypeError) as e:
        raise TokenDecodeError(f"the token is not valid base64 ({e})") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username or not password:
        raise TokenDecodeError("the decoded token is not of the form 'user:password'")
    return username, password


def registry_host(proxy_endpoint):
    """'https://host/' -> 'host'."""
    host = proxy_endpoint or ""
    for scheme in ("https://", "http://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
            break
    return host.rstrip("/")


def authorization_to_result(data):
    """One authorizationData entry -> the module's snake_case login dict."""
    raw = camel_dict_to_snake_dict(data)
    username, password = decode_token(raw.get("authorization_token"))
    expires_at = data.get("expiresAt")
    return {
        "registry": registry_host(raw.get("proxy_endpoint")),
        "proxy_endpoint": raw.get("proxy_endpoint"),
        "username": username,
        "password": password,
        "expires_at": expires_at.isoformat() if hasattr(expires_at, "isoformat") else expires_at,
    }


def main():
    argument_spec = dict(
        registry_ids=dict(type="list", elements="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)

    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
    params = {}
    if module.params.get("registry_ids"):
        params["registryIds"] = module.params["registry_ids"]

    try:
        response = client.get_authorization_token(aws_retry=True, **params)
    except is_boto3_error_code(["AccessDeniedException", "UnrecognizedClientException"]) as e:
        module.fail_json_aws(
            e,
            msg="AWS refused to give an ECR login. The credentials must be valid (check them with "
            "'aws sts get-caller-identity'; AWS Academy credentials expire when the lab session ends) and allow "
            "ecr:GetAuthorizationToken",
        )
    except is_boto3_error_code("InvalidParameterException") as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(
            e, msg="ECR rejected the request: registry_ids must be 12-digit AWS account IDs of existing registries"
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(
            e,
            msg="Could not get an ECR login token. Check the AWS credentials, the region and the network "
            "connection to AWS",
        )

    data = response.get("authorizationData") or []
    if not data:
        module.fail_json(
            msg="ECR returned no login data. Check that ECR is available in this region and, if you set "
            "registry_ids, that they are account IDs with a registry."
        )
    try:
        authorizations = [authorization_to_result(d) for d in data]
    except TokenDecodeError as e:
        module.fail_json(
            msg=f"ECR returned a login token that cannot be decoded: {e}. If you use an AWS emulator, check that "
            "it implements ECR GetAuthorizationToken."
        )

    module.exit_json(changed=False, authorizations=authorizations, **authorizations[0])


if __name__ == "__main__":
    main()
