"""RFC 3161 time-stamp tokens: an independent time anchor for a signed checkpoint (EXPORT-SPEC.md 7.6).

A time-stamping authority (TSA) signs ``TSTInfo`` (RFC 3161 2.4.2): the SHA-256 of some bytes
(``messageImprint``) and the time it saw them (``genTime``). Over a checkpoint's text it says:
"a log of this size and root existed at genTime", from a party other than the archive.

- :func:`timestamp_request`: the DER ``TimeStampReq`` for a SHA-256 digest (with a nonce and
  ``certReq``, so the answer carries the TSA's certificate).
- :func:`read_timestamp_response`: parse a ``TimeStampResp`` (``.tsr``), refuse one not granted.
- :func:`check_timestamp`: the token is over exactly these bytes and its signature verifies with
  the signer certificate it carries (RFC 5652 5.4, 5.6; the ESS signing-certificate attribute of
  RFC 3161 2.4.1 / RFC 5816 names that certificate); with trusted certificates, the signer is one
  of them or directly issued by one, carries the critical ``timeStamping`` extended key usage
  (RFC 3161 2.3), and was valid at genTime. Returns None or raises (fail closed).

The same files verify with ``openssl ts -verify -in checkpoint.tsr -data checkpoint.txt -CAfile tsa.pem``.
Needs only the standard library and ``cryptography``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import der
from .errors import MalformedError, SignatureError

__all__ = [
    "TimestampToken",
    "TsaCertificate",
    "check_timestamp",
    "load_certificates",
    "read_timestamp_response",
    "timestamp_request",
]

_SIGNED_DATA = "1.2.840.113549.1.7.2"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ATTR_SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"  # ESSCertID, SHA-1 (RFC 2634 5.4)
_ATTR_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"  # ESSCertIDv2 (RFC 5035), default SHA-256
_DIGESTS: dict[str, tuple[str, hashes.HashAlgorithm]] = {
    "2.16.840.1.101.3.4.2.1": ("sha256", hashes.SHA256()),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384()),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512()),
}
_SHA256 = "2.16.840.1.101.3.4.2.1"
_RSA = {"1.2.840.113549.1.1.1", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13"}
_ECDSA = {"1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4"}
_ED25519 = "1.3.101.112"
_MAX_TOKEN = 64 * 1024

TsaCertificate = x509.Certificate
"""An X.509 certificate of a time-stamping authority (or of its issuer)."""


@dataclass(frozen=True)
class TimestampToken:
    """What a granted ``TimeStampResp`` says (RFC 3161 2.4.2), and the bytes its signature covers."""

    gen_time: datetime
    imprint_alg: str
    imprint: bytes
    serial: int
    policy: str
    nonce: int | None
    signer: x509.Certificate
    signer_subject: str
    _signed_attrs: bytes
    _signature_alg: str
    _digest_alg: str
    _signature: bytes
    _tst_info: bytes
    _attr_digest: bytes
    _cert_hashes: tuple[tuple[str, bytes], ...]


def timestamp_request(digest: bytes, nonce: int) -> bytes:
    """The DER ``TimeStampReq`` (RFC 3161 2.4.1, version 1) for a SHA-256 ``digest``, asking for the cert."""
    if len(digest) != 32:
        raise MalformedError("a time-stamp request takes a SHA-256 digest (32 bytes)")
    alg = der.encode_tlv(der.SEQUENCE, der.encode_oid(_SHA256) + der.encode_tlv(der.NULL, b""))
    imprint = der.encode_tlv(der.SEQUENCE, alg + der.encode_tlv(der.OCTET_STRING, digest))
    body = der.encode_integer(1) + imprint + der.encode_integer(nonce) + der.encode_tlv(der.BOOLEAN, b"\xff")
    return der.encode_tlv(der.SEQUENCE, body)


def _alg(tlv: der.Tlv, what: str) -> str:
    parts = tlv.expect(der.SEQUENCE, what).children()
    if not parts:
        raise MalformedError(f"{what}: empty algorithm identifier")
    return parts[0].oid()


def _attributes(signed_attrs: der.Tlv) -> dict[str, der.Tlv]:
    out: dict[str, der.Tlv] = {}
    for attr in signed_attrs.children():
        typ, values = attr.expect(der.SEQUENCE, "attribute").children()
        vals = values.expect(der.SET, "attribute values").children()
        if typ.oid() in out or len(vals) != 1:
            raise MalformedError(f"signed attribute {typ.oid()} twice or with {len(vals)} values")
        out[typ.oid()] = vals[0]
    return out


def _cert_hashes(attrs: dict[str, der.Tlv]) -> tuple[tuple[str, bytes], ...]:
    found: list[tuple[str, bytes]] = []
    if _ATTR_SIGNING_CERT in attrs:  # SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, ... }
        first = attrs[_ATTR_SIGNING_CERT].expect(der.SEQUENCE, "signing certificate").children()[0].children()[0]
        found.append(
            ("sha1", first.expect(der.SEQUENCE, "ESSCertID").children()[0].expect(der.OCTET_STRING, "certHash").content)
        )
    if _ATTR_SIGNING_CERT_V2 in attrs:
        first = attrs[_ATTR_SIGNING_CERT_V2].expect(der.SEQUENCE, "signing certificate v2").children()[0]
        parts = first.children()[0].expect(der.SEQUENCE, "ESSCertIDv2").children()
        alg = "sha256"
        if parts[0].tag == der.SEQUENCE:
            oid = _alg(parts[0], "ESSCertIDv2 hash algorithm")
            if oid not in _DIGESTS:
                raise MalformedError(f"ESSCertIDv2 hash algorithm {oid} is not SHA-2")
            alg, parts = _DIGESTS[oid][0], parts[1:]
        found.append((alg, parts[0].expect(der.OCTET_STRING, "certHash").content))
    if not found:
        raise MalformedError("the token has no signing-certificate attribute (RFC 3161 2.4.1)")
    return tuple(found)


def _signer(certs: list[x509.Certificate], sid: der.Tlv) -> x509.Certificate:
    for cert in certs:
        if sid.tag == der.SEQUENCE:  # IssuerAndSerialNumber
            issuer, serial = sid.children()
            if cert.serial_number == serial.integer() and cert.issuer.public_bytes() == issuer.raw:
                return cert
        elif sid.tag == der.CONTEXT_0_PRIMITIVE:  # [0] SubjectKeyIdentifier
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == sid.content:
                return cert
    raise MalformedError("the token does not carry its signer's certificate (request it with certReq)")


def read_timestamp_response(data: bytes) -> TimestampToken:
    """Parse a DER ``TimeStampResp`` (RFC 3161 2.4.2). Raises MalformedError (also for a refusal:
    a status other than granted or grantedWithMods, or no token)."""
    if len(data) > _MAX_TOKEN:
        raise MalformedError(f"time-stamp response larger than {_MAX_TOKEN} bytes")
    resp = der.read_one(data, "time-stamp response").expect(der.SEQUENCE, "TimeStampResp").children()
    status = resp[0].expect(der.SEQUENCE, "PKIStatusInfo").children()[0].integer()
    if status not in (0, 1) or len(resp) != 2:
        raise MalformedError(f"the time-stamping authority refused the request (PKIStatus {status})")
    ctype, content = resp[1].expect(der.SEQUENCE, "TimeStampToken").children()
    if ctype.oid() != _SIGNED_DATA:
        raise MalformedError("the time-stamp token is not CMS SignedData")
    sd = content.expect(der.CONTEXT_0, "content").children()[0].expect(der.SEQUENCE, "SignedData").children()
    encap = sd[2].expect(der.SEQUENCE, "encapContentInfo").children()
    if encap[0].oid() != _TST_INFO or len(encap) != 2:
        raise MalformedError("the signed content is not TSTInfo")
    tst_bytes = encap[1].expect(der.CONTEXT_0, "eContent").children()[0].expect(der.OCTET_STRING, "eContent").content
    rest = sd[3:]
    certs: list[x509.Certificate] = []
    if rest and rest[0].tag == der.CONTEXT_0:
        try:
            certs = [x509.load_der_x509_certificate(c.raw) for c in rest[0].children()]
        except ValueError as exc:
            raise MalformedError(f"a certificate in the token does not parse: {exc}") from exc
        rest = rest[1:]
    if rest and rest[0].tag == der.CONTEXT_1:  # crls
        rest = rest[1:]
    infos = rest[0].expect(der.SET, "signerInfos").children() if len(rest) == 1 else []
    if len(infos) != 1:
        raise MalformedError("a time-stamp token has exactly one SignerInfo (RFC 3161 2.4.2)")
    si = infos[0].expect(der.SEQUENCE, "SignerInfo").children()
    if len(si) < 6 or si[3].tag != der.CONTEXT_0:
        raise MalformedError("the SignerInfo has no signed attributes")
    attrs = _attributes(si[3])
    if attrs.get(_ATTR_CONTENT_TYPE) is None or attrs[_ATTR_CONTENT_TYPE].oid() != _TST_INFO:
        raise MalformedError("the signed content-type attribute is not TSTInfo (RFC 5652 11.1)")
    if _ATTR_MESSAGE_DIGEST not in attrs:
        raise MalformedError("the SignerInfo has no message-digest attribute (RFC 5652 11.2)")
    tst = der.read_one(tst_bytes, "TSTInfo").expect(der.SEQUENCE, "TSTInfo").children()
    if tst[0].integer() != 1:
        raise MalformedError("TSTInfo version is not 1")
    imprint_alg, imprint = tst[2].expect(der.SEQUENCE, "messageImprint").children()
    nonce = next((t.integer() for t in tst[6:] if t.tag == der.INTEGER), None)
    signer = _signer(certs, si[1])
    return TimestampToken(
        gen_time=tst[4].generalized_time(), imprint_alg=_alg(imprint_alg, "imprint algorithm"),
        imprint=imprint.expect(der.OCTET_STRING, "hashedMessage").content, serial=tst[3].integer(),
        policy=tst[1].oid(), nonce=nonce, signer=signer, signer_subject=signer.subject.rfc4514_string(),
        _signed_attrs=bytes([der.SET]) + si[3].raw[1:], _signature_alg=_alg(si[4], "signature algorithm"),
        _digest_alg=_alg(si[2], "digest algorithm"), _signature=si[5].expect(der.OCTET_STRING, "signature").content,
        _tst_info=tst_bytes, _attr_digest=attrs[_ATTR_MESSAGE_DIGEST].expect(der.OCTET_STRING, "digest").content,
        _cert_hashes=_cert_hashes(attrs))  # fmt: skip


def _verify_signature(token: TimestampToken) -> None:
    if token._digest_alg not in _DIGESTS:
        raise SignatureError(f"the token's digest algorithm {token._digest_alg} is not SHA-2")
    name, algorithm = _DIGESTS[token._digest_alg]
    if hashlib.new(name, token._tst_info).digest() != token._attr_digest:
        raise SignatureError("the token's message-digest attribute is not the digest of its TSTInfo")
    for alg, want in token._cert_hashes:
        if hashlib.new(alg, token.signer.public_bytes(Encoding.DER)).digest() != want:
            raise SignatureError("the token's signing-certificate attribute names another certificate")
    key = token.signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and token._signature_alg in _RSA:
            key.verify(token._signature, token._signed_attrs, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and token._signature_alg in _ECDSA:
            key.verify(token._signature, token._signed_attrs, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey) and token._signature_alg == _ED25519:
            key.verify(token._signature, token._signed_attrs)
        else:
            raise SignatureError(f"unsupported token signature algorithm {token._signature_alg}")
    except InvalidSignature as exc:
        raise SignatureError(f"the time-stamp token's signature does not verify ({token.signer_subject})") from exc


def _verify_trust(token: TimestampToken, trusted: list[x509.Certificate]) -> None:
    signer = token.signer
    try:
        eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise SignatureError(f"the TSA certificate {token.signer_subject} has no extended key usage") from exc
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise SignatureError("the TSA certificate's extended key usage is not critical timeStamping only "
                             "(RFC 3161 2.3)")  # fmt: skip
    if not signer.not_valid_before_utc <= token.gen_time <= signer.not_valid_after_utc:
        raise SignatureError(f"genTime {token.gen_time.isoformat()} is outside the TSA certificate's validity")
    for anchor in trusted:
        if anchor == signer:
            return
        try:
            signer.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        if anchor.not_valid_before_utc <= token.gen_time <= anchor.not_valid_after_utc:
            return
    raise SignatureError(f"the TSA certificate {token.signer_subject} is not one you trusted, nor issued by one")


def check_timestamp(token: TimestampToken, data: bytes, trusted: list[x509.Certificate] | None,
                    *, nonce: int | None = None) -> None:  # fmt: skip
    """Return None when ``token`` time-stamps exactly ``data`` with a valid signature, and, when
    ``trusted`` is given, by a TSA certificate that is one of them or directly issued by one.

    Raises:
        SignatureError: another imprint, a bad signature, an untrusted or unfit TSA certificate.
        MalformedError: an imprint that is not SHA-2, or another ``nonce`` than asked for.
    """
    if token.imprint_alg not in _DIGESTS:
        raise MalformedError(f"the token's imprint algorithm {token.imprint_alg} is not SHA-2")
    if hashlib.new(_DIGESTS[token.imprint_alg][0], data).digest() != token.imprint:
        raise SignatureError("the time-stamp token is over other bytes (messageImprint differs)")
    if nonce is not None and token.nonce != nonce:
        raise MalformedError("the time-stamp response answers another request (nonce differs)")
    _verify_signature(token)
    if trusted is not None:
        _verify_trust(token, trusted)


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM file (one or more). Raises MalformedError."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise MalformedError(f"not a PEM certificate file: {exc}") from exc
    return certs
