"""Secret material for the embedded SeaweedFS: the lock-down config (identities: seaweed_identities).

SeaweedFS enforces S3 object lock only in its S3 gateway. Its filer, volume and master servers
have their own HTTP and gRPC ports that bypass the S3 layer (a filer ``DELETE`` removed a
COMPLIANCE-locked version, see MEASUREMENTS.md). :func:`write_security_config` closes them as far
as SeaweedFS allows:

* gRPC (master, volume, filer, S3, admin, worker): mutual TLS with a CA generated here; a client
  without a certificate signed by it is refused during the TLS handshake;
* volume HTTP: JWT signing for writes and reads, so a ``DELETE``/``GET`` of a file id is refused;
* filer HTTP: JWT signing for writes and reads (the launcher also passes ``-disableHttp``, which
  removes the filer's and master's HTTP APIs altogether).

Everything is written with mode 0600 inside a 0700 directory. Whoever can read that directory
(the same OS user, or root) can still bypass the lock; that is the residual risk.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archive.errors import ToolError

# Every [grpc.<component>] section SeaweedFS reads (weed scaffold -config=security).
_GRPC_COMPONENTS = (
    "volume",
    "master",
    "filer",
    "s3",
    "msg_broker",
    "msg_agent",
    "admin",
    "worker",
    "mq",
    "client",
)
CA_FILE = "ca.crt"
CERT_FILE = "node.crt"
KEY_FILE = "node.key"
SECURITY_FILE = "security.toml"


@dataclass(frozen=True)
class S3Credentials:
    """One S3 access key pair (the secret is never in repr)."""

    access_key: str
    secret_key: str = field(repr=False)


def write_private(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path`` with mode 0600. Raises OSError."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _make_tls_material() -> tuple[bytes, bytes, bytes]:
    """A fresh CA and one node certificate (server + client use) signed by it: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "archive embedded SeaweedFS CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
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
        .sign(ca_key, hashes.SHA256())
    )
    node_key = ec.generate_private_key(ec.SECP256R1())
    node = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "archive-seaweedfs")]))
        .issuer_name(ca_name)
        .public_key(node_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _pem_cert(ca), _pem_cert(node), _pem_key(node_key)


def _toml_str(value: str | Path) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(str(value))


def write_security_config(conf_dir: Path) -> None:
    """(Re)generate ``security.toml`` plus CA, certificate and key in ``conf_dir`` (mode 0600).

    New JWT keys and a new CA are made on every call: nothing long-lived needs to be kept, and a
    leaked key from an earlier run is useless. The CA private key is never written to disk.
    Raises :class:`ToolError` if the files cannot be written.
    """
    ca_pem, cert_pem, key_pem = _make_tls_material()
    ca, cert, key = conf_dir / CA_FILE, conf_dir / CERT_FILE, conf_dir / KEY_FILE
    lines = [
        "# Generated by archive.storage.seaweed at every start. Do not edit.",
        "[jwt.signing]",
        f"key = {_toml_str(secrets.token_hex(32))}",
        "expires_after_seconds = 10",
        "[jwt.signing.read]",
        f"key = {_toml_str(secrets.token_hex(32))}",
        "expires_after_seconds = 60",
        "[jwt.filer_signing]",
        f"key = {_toml_str(secrets.token_hex(32))}",
        "expires_after_seconds = 10",
        "[jwt.filer_signing.read]",
        f"key = {_toml_str(secrets.token_hex(32))}",
        "expires_after_seconds = 60",
        "[access]",
        "ui = false",
        "[filer.expose_directory_metadata]",
        "enabled = false",
        "[grpc]",
        f"ca = {_toml_str(ca)}",
    ]
    for component in _GRPC_COMPONENTS:
        lines += [f"[grpc.{component}]", f"cert = {_toml_str(cert)}", f"key = {_toml_str(key)}"]
    try:
        conf_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        conf_dir.chmod(0o700)
        write_private(ca, ca_pem)
        write_private(cert, cert_pem)
        write_private(key, key_pem)
        write_private(conf_dir / SECURITY_FILE, ("\n".join(lines) + "\n").encode("utf-8"))
    except OSError as exc:
        raise ToolError(f"cannot write SeaweedFS security config in {conf_dir}: {exc}") from exc
