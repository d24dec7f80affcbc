# Copyright: contributors to outsource.deploy
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

import base64
import datetime

import pytest
from ansible_collections.outsource.deploy.plugins.modules import ecr_authorization_token_info as ecr_module
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.ecr.responses import ECRResponse


@pytest.fixture
def aws():
    with mock_aws():
        yield


def test_login_for_the_default_registry(aws, run_module):
    result = run_module(ecr_module, {})

    registry = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com"
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["registry"] == registry
    assert result["proxy_endpoint"] == f"https://{registry}"
    assert result["username"] == "AWS"
    # moto's token is base64("AWS:<account>-auth-token")
    assert result["password"] == f"{DEFAULT_ACCOUNT_ID}-auth-token"
    assert datetime.datetime.fromisoformat(result["expires_at"]).year == 2015
    assert result["authorizations"] == [
        {
            "registry": registry,
            "proxy_endpoint": f"https://{registry}",
            "username": "AWS",
            "password": f"{DEFAULT_ACCOUNT_ID}-auth-token",
            "expires_at": result["expires_at"],
        }
    ]


def test_login_for_several_registries(aws, run_module):
    result = run_module(ecr_module, {"registry_ids": ["111111111111", "222222222222"]})

    assert [a["registry"] for a in result["authorizations"]] == [
        "111111111111.dkr.ecr.us-east-1.amazonaws.com",
        "222222222222.dkr.ecr.us-east-1.amazonaws.com",
    ]
    assert [a["password"] for a in result["authorizations"]] == ["111111111111-auth-token", "222222222222-auth-token"]
    assert result["registry"] == "111111111111.dkr.ecr.us-east-1.amazonaws.com"


def test_password_with_colons_is_kept_whole():
    token = base64.b64encode(b"AWS:pa:ss:word==").decode()
    assert ecr_module.decode_token(token) == ("AWS", "pa:ss:word==")


@pytest.mark.parametrize("token", ["not base64!", base64.b64encode(b"no-colon-here").decode(), ""])
def test_undecodable_tokens_raise(token):
    with pytest.raises(ecr_module.TokenDecodeError):
        ecr_module.decode_token(token)


@pytest.mark.parametrize(
    "endpoint, host",
    [
        ("https://1.dkr.ecr.eu-west-1.amazonaws.com", "1.dkr.ecr.eu-west-1.amazonaws.com"),
        ("http://127.0.0.1:4566/", "127.0.0.1:4566"),
        ("localhost:4566", "localhost:4566"),
    ],
)
def test_registry_host_strips_the_scheme(endpoint, host):
    assert ecr_module.registry_host(endpoint) == host


def test_a_bad_token_fails_with_a_message(aws, run_module, monkeypatch):
    def bad_token(self):
        return ActionResult(
            {
                "authorizationData": [
                    {
                        "authorizationToken": "%%%",
                        "expiresAt": datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
                        "proxyEndpoint": "https://x",
                    }
                ]
            }
        )

    monkeypatch.setattr(ECRResponse, "get_authorization_token", bad_token)

    result = run_module(ecr_module, {})

    assert result["failed"] is True
    assert "cannot be decoded" in result["msg"]
    assert "password" not in result
