"""The S3 object store adapter: :class:`S3Store` over the minio SDK.

This is the only module of the archive that imports ``minio``. Every minio / urllib3 exception is
translated here (``raise ... from exc``) into :mod:`archive.errors`:

connection refused / timeout / HTTP 5xx -> StorageUnavailableError; NoSuchKey / NoSuchVersion /
NoSuchBucket -> ObjectMissingError; a delete or retention change refused while a retention or legal
hold is in force -> ObjectLockedError; other AccessDenied, bad key or signature -> StorageDeniedError;
anything else -> StorageError.

S3 answers a lock refusal with the same ``AccessDenied`` as a policy refusal, so after an
``AccessDenied`` on delete / set_retention the adapter reads the version's lock state and reports
:class:`ObjectLockedError` only when a retention or legal hold is actually in force.
Messages never contain the secret key.

A caller that already hashed the bytes passes ``sha256`` to :meth:`S3Store.put_bytes`: it is sent
as the SigV4 payload hash (``x-amz-content-sha256``, AWS SigV4 "signed payload") instead of minio
hashing the body a second time, so the store itself refuses the upload if the bytes it received
are not the bytes that were hashed (``XAmzContentSHA256Mismatch``).
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import ENABLED
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.retention import Retention as MinioRetention
from minio.versioningconfig import VersioningConfig

from archive.errors import (
    ObjectLockedError,
    ObjectMissingError,
    StorageDeniedError,
    StorageError,
    StorageUnavailableError,
)
from archive.storage.base import ObjectInfo, PutResult, Retention
from archive.storage.s3_headers import (
    DENIED_CODES,
    MISSING_CODES,
    UNAVAILABLE_CODES,
    lock_reasons,
    parse_head,
    user_metadata,
)

_CHUNK = 1024 * 1024
_MAX_PRESIGN = dt.timedelta(days=7)


PAYLOAD_SHA256 = "x-amz-content-sha256"


class _Client(Minio):
    """minio's client, except that a payload SHA-256 the caller put in the headers is signed as is.

    Only over plain HTTP, where minio would otherwise hash the body itself (over HTTPS minio sends
    ``UNSIGNED-PAYLOAD`` with a Content-MD5, and the caller's value is dropped).
    """

    def _build_headers(
        self, host: str, headers: dict[str, Any] | None = None, body: bytes | None = None, creds: Any = None
    ) -> tuple[dict[str, Any], dt.datetime]:
        given = (headers or {}).pop(PAYLOAD_SHA256, None)
        if given is None or body is None or creds is None or self._base_url.is_https:
            return super()._build_headers(host, headers, body, creds)
        built, date = super()._build_headers(host, headers, None, creds)  # no second hash of the body
        built["Content-Length"] = str(len(body))
        built[PAYLOAD_SHA256] = given
        return built, date


class S3Store:
    """:class:`archive.storage.base.ObjectStore` over any S3 API with object lock (SeaweedFS, MinIO, AWS).

    Buckets must be versioned; puts return the version the store confirmed. Timeouts are short
    (connect 3 s, 10 s without a byte while reading) and only connection attempts are retried,
    so a dead store fails within a few seconds and a request body is never sent twice.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        secure: bool,
        region: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
    ) -> None:
        """``endpoint`` is ``host:port``; ``region`` None means us-east-1 (no bucket-location lookups).

        Raises :class:`StorageError` when the endpoint is malformed.
        """
        self._endpoint = endpoint
        self._secure = secure
        self._secret = secret_key  # only to scrub messages; never shown
        pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=16,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(total=2, connect=2, read=0, redirect=False, other=0, backoff_factor=0.2),
        )
        try:
            self._client = _Client(
                endpoint=endpoint,
                access_key=access_key,
                secret_key=secret_key,
                secure=secure,
                region=region or "us-east-1",
                http_client=pool,
            )
        except ValueError as exc:
            raise StorageError(self._scrub(f"invalid S3 endpoint {endpoint!r}: {exc}")) from exc

    def __repr__(self) -> str:
        return f"S3Store(endpoint={self._endpoint!r}, secure={self._secure})"

    @property
    def endpoint(self) -> str:
        """``host:port`` of the S3 API."""
        return self._endpoint

    # -- buckets ---------------------------------------------------------------------------
    def ensure_bucket(self, bucket: str, *, object_lock: bool = True) -> None:
        """Create the bucket with versioning (and object lock) unless it exists, then verify it.

        Raises :class:`StorageError` when an existing bucket lacks object lock (it cannot be
        added later), :class:`StorageDeniedError` when the name belongs to someone else.
        """
        with self._errors("create bucket", bucket):
            if not self._client.bucket_exists(bucket_name=bucket):
                try:
                    self._client.make_bucket(bucket_name=bucket, object_lock=object_lock)
                except S3Error as exc:
                    if exc.code != "BucketAlreadyOwnedByYou":
                        raise
            if self._client.get_bucket_versioning(bucket_name=bucket).status != ENABLED:
                self._client.set_bucket_versioning(bucket_name=bucket, config=VersioningConfig(ENABLED))
            if object_lock:
                try:
                    self._client.get_object_lock_config(bucket_name=bucket)
                except S3Error as exc:
                    if exc.code != "ObjectLockConfigurationNotFoundError":
                        raise
                    raise StorageError(
                        f"bucket {bucket} exists without object lock; it cannot be enabled later, use a new bucket"
                    ) from exc

    # -- writing ---------------------------------------------------------------------------
    def put_file(
        self,
        bucket: str,
        key: str,
        path: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        retention: Retention | None = None,
        legal_hold: bool = False,
    ) -> PutResult:
        """Upload a local file; return the version, etag and size the store confirmed (HEAD).

        Raises :class:`StorageError` when the file cannot be read, changes during the upload,
        the bucket is not versioned, or the store confirms another size or etag.
        """
        try:
            fh = Path(path).open("rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
        with fh:
            size = os.fstat(fh.fileno()).st_size
            result = self._put(bucket, key, fh, size, content_type, metadata, retention, legal_hold)
            if os.fstat(fh.fileno()).st_size != size:
                raise StorageError(f"{path} changed size during upload to {bucket}/{key}")
        return result

    def put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        retention: Retention | None = None,
        legal_hold: bool = False,
        sha256: str | None = None,
    ) -> PutResult:
        """Upload bytes; return the confirmed version. Raises like :meth:`put_file`.

        ``sha256`` (hex, of ``data``) is signed as the payload hash: the store refuses the upload
        when the body it received hashes otherwise (:class:`StorageError`), and the body is not
        hashed again here.
        """
        extra = {PAYLOAD_SHA256: sha256} if sha256 is not None else {}
        return self._put(
            bucket, key, io.BytesIO(data), len(data), content_type, metadata, retention, legal_hold, extra
        )

    def _put(
        self,
        bucket: str,
        key: str,
        data: BinaryIO,
        size: int,
        content_type: str,
        metadata: Mapping[str, str] | None,
        retention: Retention | None,
        legal_hold: bool,
        extra_headers: Mapping[str, str] | None = None,
    ) -> PutResult:
        headers = user_metadata(metadata)
        headers.update(extra_headers or {})
        with self._errors("put", bucket, key):
            written = self._client.put_object(
                bucket_name=bucket,
                object_name=key,
                data=data,
                length=size,
                content_type=content_type,
                metadata=headers or None,
                retention=_to_minio(retention) if retention else None,
                legal_hold=legal_hold,
            )
        if not written.version_id or written.version_id == "null":
            raise StorageError(f"put {bucket}/{key}: the store returned no version id (is versioning on?)")
        info = self.stat(bucket, key, written.version_id)
        if info.size != size or (written.etag and info.etag and written.etag != info.etag):
            raise StorageError(
                f"put {bucket}/{key}: store confirmed size {info.size} etag {info.etag}, "
                f"sent size {size} etag {written.etag}"
            )
        return PutResult(bucket, key, written.version_id, info.etag, info.size, info.metadata)

    # -- reading ---------------------------------------------------------------------------
    def stat(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """HEAD one version (latest when ``version_id`` is None), with its lock state and metadata.

        Raises :class:`ObjectMissingError` when bucket, key or version is absent.
        """
        with self._errors("stat", bucket, key, version_id):
            obj = self._client.stat_object(bucket_name=bucket, object_name=key, version_id=version_id)
        meta, retention, legal_hold = parse_head(obj.metadata or {})
        return ObjectInfo(
            bucket=bucket,
            key=key,
            version_id=obj.version_id or "null",
            size=int(obj.size or 0),
            etag=obj.etag or "",
            last_modified=obj.last_modified,
            metadata=meta,
            retention=retention,
            legal_hold=legal_hold,
        )

    def open(self, bucket: str, key: str, version_id: str | None = None) -> Iterator[bytes]:
        """Stream a version in chunks of up to 1 MiB. The request is made now, so a missing
        object raises :class:`ObjectMissingError` here; a failure mid-stream raises on iteration.
        """
        with self._errors("get", bucket, key, version_id):
            resp = self._client.get_object(bucket_name=bucket, object_name=key, version_id=version_id)
        return self._stream(resp, bucket, key, version_id)

    def _stream(self, resp: urllib3.BaseHTTPResponse, bucket: str, key: str, version_id: str | None) -> Iterator[bytes]:
        try:
            with self._errors("get", bucket, key, version_id):
                yield from resp.stream(_CHUNK)
        finally:
            resp.close()
            resp.release_conn()

    def get_bytes(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        """Read a whole (small) version. Raises like :meth:`open`."""
        return b"".join(self.open(bucket, key, version_id))

    def list_versions(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every stored version under ``prefix`` (delete markers are skipped; metadata and lock
        state are not filled). Raises :class:`ObjectMissingError` for a missing bucket."""
        with self._errors("list", bucket, prefix):
            for obj in self._client.list_objects(
                bucket_name=bucket, prefix=prefix, recursive=True, include_version=True
            ):
                if obj.is_delete_marker or obj.object_name is None:
                    continue
                yield ObjectInfo(
                    bucket=bucket,
                    key=obj.object_name,
                    version_id=obj.version_id or "null",
                    size=int(obj.size or 0),
                    etag=obj.etag or "",
                    last_modified=obj.last_modified,
                )

    def presigned_get(self, bucket: str, key: str, version_id: str | None, expires: dt.timedelta) -> str:
        """A URL anyone can GET the version with until ``expires`` from now (1 s to 7 days).

        Computed locally (no request). Raises :class:`StorageError` for an invalid ``expires``.
        """
        if not dt.timedelta(seconds=1) <= expires <= _MAX_PRESIGN:
            raise StorageError(f"presigned URL lifetime must be between 1 s and 7 days, not {expires}")
        with self._errors("presign", bucket, key, version_id):
            return str(
                self._client.presigned_get_object(
                    bucket_name=bucket, object_name=key, expires=expires, version_id=version_id
                )
            )

    def ping(self) -> None:
        """Return when the store answers an authenticated request. Raises StorageUnavailableError
        when unreachable, StorageDeniedError when the credentials are refused."""
        with self._errors("ping", ""):
            self._client.list_buckets()

    # -- object lock -----------------------------------------------------------------------
    def delete_version(self, bucket: str, key: str, version_id: str, *, bypass_governance: bool = False) -> None:
        """Permanently delete one version (a version that does not exist counts as deleted).

        Raises :class:`ObjectLockedError` while a retention (GOVERNANCE without bypass, or
        COMPLIANCE) or a legal hold protects it, :class:`StorageDeniedError` for other refusals.
        """
        if not bypass_governance:
            try:
                with self._errors("delete", bucket, key, version_id):
                    self._client.remove_object(bucket_name=bucket, object_name=key, version_id=version_id)
            except StorageDeniedError as exc:
                self._raise_if_locked(exc, "delete", bucket, key, version_id)
            return
        with self._errors("delete", bucket, key, version_id):
            errors = list(
                self._client.remove_objects(
                    bucket_name=bucket,
                    delete_object_list=[DeleteObject(key, version_id)],
                    bypass_governance_mode=True,
                )
            )
        for err in errors:
            code = err.code or "Error"
            msg = f"delete {bucket}/{key}?versionId={version_id} (bypassing governance): {code}: {err.message}"
            if code in MISSING_CODES:
                return
            if code in DENIED_CODES:
                self._raise_if_locked(StorageDeniedError(self._scrub(msg)), "delete", bucket, key, version_id)
            raise StorageError(self._scrub(msg))

    def set_legal_hold(self, bucket: str, key: str, version_id: str, on: bool) -> None:
        """Turn the legal hold of one version on or off. Raises :class:`ObjectMissingError`."""
        change = self._client.enable_object_legal_hold if on else self._client.disable_object_legal_hold
        with self._errors("legal hold", bucket, key, version_id):
            change(bucket_name=bucket, object_name=key, version_id=version_id)

    def set_retention(self, bucket: str, key: str, version_id: str, retention: Retention) -> None:
        """Set (extend) the retention of one version. Shortening it or weakening its mode is
        refused by the store: :class:`ObjectLockedError`. Raises :class:`ObjectMissingError`."""
        try:
            with self._errors("set retention", bucket, key, version_id):
                self._client.set_object_retention(
                    bucket_name=bucket, object_name=key, version_id=version_id, config=_to_minio(retention)
                )
        except StorageDeniedError as exc:
            self._raise_if_locked(exc, "set retention", bucket, key, version_id)

    def _raise_if_locked(self, exc: StorageDeniedError, op: str, bucket: str, key: str, version_id: str) -> NoReturn:
        """Re-raise a refusal as ObjectLockedError when a lock is in force, else unchanged."""
        try:
            info = self.stat(bucket, key, version_id)
        except StorageError:
            raise exc from exc.__cause__
        reasons = lock_reasons(info, dt.datetime.now(dt.UTC))
        if reasons:
            raise ObjectLockedError(
                f"{op} {bucket}/{key}?versionId={version_id} refused: {' and '.join(reasons)}"
            ) from exc.__cause__ or exc
        raise exc

    # -- error translation -------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "[secret]") if self._secret else text

    @contextmanager
    def _errors(self, op: str, bucket: str, key: str = "", version_id: str | None = None) -> Iterator[None]:
        """Translate minio / urllib3 exceptions raised inside the block."""
        what = f"{op} {bucket}/{key}" if key else f"{op} {bucket}".rstrip()
        if version_id:
            what += f"?versionId={version_id}"
        try:
            yield
        except S3Error as exc:
            code = exc.code or ""
            status = exc.response.status if exc.response is not None else 0
            msg = self._scrub(f"{what}: {code or status}: {exc.message or ''}".rstrip(": "))
            if code in MISSING_CODES or code == "MethodNotAllowed":  # the version is a delete marker
                raise ObjectMissingError(msg) from exc
            if code in DENIED_CODES:
                raise StorageDeniedError(msg) from exc
            if code in UNAVAILABLE_CODES or status >= 500:
                raise StorageUnavailableError(msg) from exc
            raise StorageError(msg) from exc
        except ServerError as exc:
            raise StorageUnavailableError(self._scrub(f"{what}: HTTP {exc.status_code}")) from exc
        except InvalidResponseError as exc:
            raise StorageUnavailableError(self._scrub(f"{what}: invalid response: {exc}")) from exc
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, ConnectionError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise StorageUnavailableError(
                self._scrub(f"{what}: store at {self._endpoint} unreachable: {reason}")
            ) from exc
        except (MinioException, ValueError, TypeError) as exc:
            raise StorageError(self._scrub(f"{what}: {exc}")) from exc


def _to_minio(retention: Retention) -> MinioRetention:
    if retention.until.tzinfo is None:
        raise StorageError("retention.until must be timezone-aware (UTC)")
    return MinioRetention(retention.mode.value, retention.until.astimezone(dt.UTC))
