"""Credentials that look real are found (detect-secrets); ordinary Secrets are not."""

from __future__ import annotations

import base64

import pytest

from kubebench.data.credentials import CredentialScanner

KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----\n"  # noqa: E501


def _secret(**data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": data}


@pytest.fixture(scope="module")
def scanner():  # type: ignore[no-untyped-def]
    with CredentialScanner() as scan:
        yield scan


def test_private_key_in_base64_secret_data(scanner: CredentialScanner) -> None:
    reason = scanner.object_reason(_secret(key=base64.b64encode(KEY.encode()).decode()))
    assert reason == "credential: Private Key"


def test_cloud_keys_and_tokens(scanner: CredentialScanner) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
          "data": {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                   "GH": "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"}}  # fmt: skip
    assert scanner.object_reason(cm) == "credential: AWS Access Key, GitHub Token"


def test_plain_secrets_and_certificates_pass(scanner: CredentialScanner) -> None:
    plain = _secret(password=base64.b64encode(b"changeit").decode(), user="YWRtaW4=")
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    cert = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ca"},
            "data": {"ca.crt": pem}}  # fmt: skip
    assert scanner.object_reason(plain) is None
    assert scanner.object_reason(cert) is None
