"""Certificates and keys for a local control plane, generated in Python.

ECDSA P-256 throughout: key generation takes microseconds, so a cold start spends no
time on cryptography. etcd has a CA of its own: only a certificate it signed (the API
server's etcd client certificate) can reach etcd, and no certificate of the cluster CA
(the admin's included) is accepted there.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=7)


@dataclass(frozen=True)
class PkiPaths:
    """Files written by `write_pki`."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_public_key: Path
    sa_private_key: Path
    etcd_ca_cert: Path
    etcd_server_cert: Path  # serving and peer certificate of etcd (127.0.0.1)
    etcd_server_key: Path
    etcd_client_cert: Path  # the API server's client certificate for etcd
    etcd_client_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _cert(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    usages: list[x509.ObjectIdentifier] | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_pki(folder: Path) -> PkiPaths:
    """Create a CA, the API server's serving cert, an admin client cert and SA keys."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = PkiPaths(
        ca_cert=folder / "ca.crt",
        ca_key=folder / "ca.key",
        serving_cert=folder / "apiserver.crt",
        serving_key=folder / "apiserver.key",
        admin_cert=folder / "admin.crt",
        admin_key=folder / "admin.key",
        sa_public_key=folder / "sa.pub",
        sa_private_key=folder / "sa.key",
        etcd_ca_cert=folder / "etcd-ca.crt",
        etcd_server_cert=folder / "etcd-server.crt",
        etcd_server_key=folder / "etcd-server.key",
        etcd_client_cert=folder / "etcd-client.crt",
        etcd_client_key=folder / "etcd-client.key",
    )
    ca_key = _key()
    ca_name = _name("kubebench-ca")
    ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)
    _write_cert(paths.ca_cert, ca)
    _write_key(paths.ca_key, ca_key)

    serving_key = _key()
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
        x509.DNSName("kubernetes.default.svc.cluster.local"),
        loopback,
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
    ]
    serving = _cert(
        _name("kube-apiserver"),
        serving_key,
        ca_name,
        ca_key,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH],
        sans=sans,
    )
    _write_cert(paths.serving_cert, serving)
    _write_key(paths.serving_key, serving_key)

    # system:masters bypasses RBAC, so the harness itself is never denied.
    admin_key = _key()
    admin = _cert(
        _name("kubebench-admin", "system:masters"),
        admin_key,
        ca_name,
        ca_key,
        usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    _write_cert(paths.admin_cert, admin)
    _write_key(paths.admin_key, admin_key)

    sa_key = _key()
    _write_key(paths.sa_private_key, sa_key)
    paths.sa_public_key.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    _write_etcd_pki(paths, loopback)
    return paths


def _write_etcd_pki(paths: PkiPaths, loopback: x509.GeneralName) -> None:
    ca_key = _key()
    ca_name = _name("kubebench-etcd-ca")
    # Its key is never written: nothing needs to sign for etcd after start-up.
    _write_cert(paths.etcd_ca_cert, _cert(ca_name, ca_key, ca_name, ca_key, ca=True))
    server_key = _key()
    server = _cert(
        _name("etcd"),
        server_key,
        ca_name,
        ca_key,
        # The same certificate serves clients and peers, and dials peers.
        usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        sans=[x509.DNSName("localhost"), loopback],
    )
    _write_cert(paths.etcd_server_cert, server)
    _write_key(paths.etcd_server_key, server_key)
    client_key = _key()
    client = _cert(
        _name("kube-apiserver-etcd-client"),
        client_key,
        ca_name,
        ca_key,
        usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    _write_cert(paths.etcd_client_cert, client)
    _write_key(paths.etcd_client_key, client_key)
