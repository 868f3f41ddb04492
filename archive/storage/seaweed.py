"""Launch an embedded, loopback-only, locked-down SeaweedFS (``weed mini``) for the archive.

Data directory layout (the directory is made mode 0700)::

    s3.json      the two service identities (archive.storage.seaweed_identities; mode 0600)
    buckets.json the buckets the one-time Admin session made (archive.storage.seaweed_provision)
    ports.json   the ports of the last run, reused when still free
    weed.log     everything weed prints (appended; one header line per start)
    conf/, run/  security.toml, gRPC CA/cert/key (regenerated at every start, 0600); unix sockets
    weed/        SeaweedFS's own data (-dir)

Every server binds to 127.0.0.1 (:mod:`archive.storage.seaweed_security`: how the filer, volume
and master ports are closed). ``start()`` returns once every bucket took a write (``warm_up``).
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self

from archive.errors import ToolError
from archive.storage.seaweed_identities import (
    ServiceIdentities,
    load_or_create_identities,
    new_credentials,
    read_identities,
    write_identities,
)
from archive.storage.seaweed_ports import GRPC_OFFSET, HOST, SeaweedPorts, pick_ports, port_free
from archive.storage.seaweed_proc import answers, find_weed, terminate
from archive.storage.seaweed_provision import create_buckets, missing_buckets, record_buckets, warm_up
from archive.storage.seaweed_security import S3Credentials, write_security_config

__all__ = ["GRPC_OFFSET", "HOST", "EmbeddedSeaweed", "S3Credentials", "SeaweedPorts", "find_weed"]

REGION = "us-east-1"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux
_SCRUBBED_ENV_PREFIXES = ("WEED_", "AWS_", "S3_")  # inherited, they change what weed does (AWS_*: an identity)


class EmbeddedSeaweed:
    """One ``weed mini`` process serving S3 on 127.0.0.1, for tests and small installations.

    Use as a context manager or call :meth:`start` / :meth:`stop`. Several instances may run in
    parallel (each with its own data directory). Methods raise :class:`ToolError`.

    The store runs with the two service identities only (no Admin, no governance bypass).
    ``buckets`` are created, before the first start that needs them, in a one-time Admin session.
    ``keep_admin``: keep an Admin identity in the running store (:attr:`admin_credentials`) for
    test fixtures that make a bucket per test and play the intruder; the service never sets it.
    """

    region: ClassVar[str] = REGION

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        weed: str | os.PathLike[str] | None = None,
        start_timeout: float = 30.0,
        volume_size_limit_mb: int = 1024,
        buckets: Sequence[str] = (),
        keep_admin: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        # Each bucket gets volumes of this size; weed mini allows about free-disk / size volumes, so
        # the size bounds how many buckets can take writes (1024 MB: ~78 on 80 GB free).
        self._volume_size_limit_mb = volume_size_limit_mb
        self._weed = weed
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._ports: SeaweedPorts | None = None
        self._identities: ServiceIdentities | None = None
        self._buckets = tuple(buckets)
        self._admin = new_credentials() if keep_admin else None
        self._lock: IO[str] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes], float], EmbeddedSeaweed] | None = None

    # -- paths and facts ---------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        """The weed log file."""
        return self.data_dir / "weed.log"

    @property
    def config_dir(self) -> Path:
        """Directory holding security.toml and the gRPC certificates (the store's identity)."""
        return self.data_dir / "conf"

    @property
    def identity_path(self) -> Path:
        """The S3 identity file (``-s3.config``)."""
        return self.data_dir / "s3.json"

    @property
    def ports(self) -> SeaweedPorts:
        """Ports of the running (or last) instance. Raises ToolError before the first start."""
        if self._ports is None:
            raise ToolError("SeaweedFS has not been started")
        return self._ports

    @property
    def endpoint(self) -> str:
        """``host:port`` of the S3 API."""
        return f"{HOST}:{self.ports.s3}"

    @property
    def identities(self) -> ServiceIdentities:
        """The service identities (generated on first use, then read from the data directory; an
        earlier version's Admin identity is dropped from the file)."""
        if self._identities is None:
            try:
                self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise ToolError(f"cannot create SeaweedFS data directory {self.data_dir}: {exc}") from exc
            self._identities = load_or_create_identities(self.identity_path)
        return self._identities

    @property
    def credentials(self) -> S3Credentials:
        """The ``archive-ingest`` key pair: what the service runs with (recorder, logs, exports)."""
        return self.identities.ingest

    @property
    def retention_credentials(self) -> S3Credentials:
        """The ``archive-retention`` key pair (retention and legal-hold jobs)."""
        return self.identities.retention

    @property
    def admin_credentials(self) -> S3Credentials:
        """The Admin key pair kept with ``keep_admin`` (tests only). Raises ToolError without it."""
        if self._admin is None:
            raise ToolError("this SeaweedFS keeps no Admin identity (keep_admin=False)")
        return self._admin

    @property
    def access_key(self) -> str:
        """The S3 access key (see :attr:`credentials`)."""
        return self.credentials.access_key

    @property
    def secret_key(self) -> str:
        """The S3 secret key (see :attr:`credentials`)."""
        return self.credentials.secret_key

    @classmethod
    def read_identities(cls, data_dir: str | os.PathLike[str]) -> ServiceIdentities:
        """The service identities of the store in ``data_dir``, e.g. one another process runs.

        Raises :class:`ToolError` when the identity file is missing, malformed or has none (never
        creates it).
        """
        path = Path(data_dir) / "s3.json"
        if not path.is_file():
            raise ToolError(f"no SeaweedFS identity file at {path}")
        ids, _ = read_identities(path)
        if ids is None:
            raise ToolError(f"SeaweedFS identity file {path} holds no service identities (start the store once)")
        return ids

    @classmethod
    def read_credentials(cls, data_dir: str | os.PathLike[str]) -> tuple[str, str]:
        """(access key, secret key) of ``archive-ingest`` in ``data_dir`` (:meth:`read_identities`)."""
        ingest = cls.read_identities(data_dir).ingest
        return ingest.access_key, ingest.secret_key

    @property
    def pid(self) -> int | None:
        """Process id of the running weed, or None."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the weed process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def last_log_lines(self, count: int = 30) -> str:
        """The last ``count`` lines of the log (empty if there is none)."""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 64 * 1024))
                tail = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(tail.splitlines()[-count:])

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start weed and wait until S3 answers. Raises ToolError (with the last log lines)."""
        if self.running:
            return
        weed = find_weed(self._weed)
        self._lock_data_dir()  # before touching anything a running weed may use
        try:
            self._prepare_dirs()
            ids = self.identities  # the identity file exists before weed reads it
            missing = missing_buckets(self.data_dir, self._buckets)
            if missing:  # the one-time Admin session
                admin = self._admin or new_credentials()
                write_identities(self.identity_path, ids, admin=admin)
                try:
                    self._serve(weed)
                    create_buckets(self.endpoint, admin, missing)
                    record_buckets(self.data_dir, missing)
                finally:
                    self._halt()  # the Admin leaves the identity file even when the session failed
                    write_identities(self.identity_path, ids, admin=self._admin)
            write_identities(self.identity_path, ids, admin=self._admin)  # never an Admin for the service
            self._serve(weed)
            warm_up(self.endpoint, ids.ingest, self._buckets, self._start_timeout)  # writes work on return
        except BaseException:
            self._halt()
            self._unlock_data_dir()
            raise

    def _serve(self, weed: str) -> None:
        deadline = time.monotonic() + self._start_timeout
        for attempt in range(3):  # a port taken between choice and bind: new ports
            if self._launch(weed, self._choose_ports(fresh=attempt > 0), deadline):
                return
            if time.monotonic() >= deadline:
                break
        raise ToolError(f"SeaweedFS did not start; last log lines:\n{self.last_log_lines()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; release the data directory. Idempotent."""
        self._halt(timeout)
        self._unlock_data_dir()

    def _halt(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, timeout)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self._remove_sockets()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedSeaweed({str(self.data_dir)!r}, pid={self.pid}, ports={self._ports})"

    # -- internals -----------------------------------------------------------------------
    def _lock_data_dir(self) -> None:
        """Hold an exclusive lock so no second weed ever runs on the same data (ToolError)."""
        if self._lock is not None:
            return
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fh = (self.data_dir / "lock").open("a+")
        except OSError as exc:
            raise ToolError(f"cannot open {self.data_dir / 'lock'}: {exc}") from exc
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            owner = fh.read().strip() or "another process"
            fh.close()
            raise ToolError(f"SeaweedFS data directory {self.data_dir} is in use by {owner}") from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self._lock = fh

    def _unlock_data_dir(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing releases the flock
            self._lock = None

    def _prepare_dirs(self) -> None:
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.data_dir.chmod(0o700)
            for sub in ("weed", "run"):
                (self.data_dir / sub).mkdir(mode=0o700, exist_ok=True)
            # weed re-applies flags saved here on the next start; our command line is the truth.
            (self.data_dir / "weed" / "mini.options").unlink(missing_ok=True)
        except OSError as exc:
            raise ToolError(f"cannot prepare SeaweedFS data directory {self.data_dir}: {exc}") from exc
        write_security_config(self.config_dir)

    def _choose_ports(self, *, fresh: bool) -> SeaweedPorts:
        path = self.data_dir / "ports.json"
        if not fresh:
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
                ports = SeaweedPorts(**{f.name: int(saved[f.name]) for f in fields(SeaweedPorts)})
                if all(port_free(p) for p in ports.http() + ports.grpc()):
                    return ports
            except (OSError, ValueError, KeyError, TypeError):
                pass
        ports = pick_ports()
        try:
            path.write_text(json.dumps(asdict(ports)), encoding="utf-8")
        except OSError as exc:
            raise ToolError(f"cannot write {path}: {exc}") from exc
        return ports

    def _argv(self, weed: str, ports: SeaweedPorts) -> list[str]:
        argv = [
            weed,
            "-logtostderr",
            f"-config_dir={self.config_dir}",
            "mini",
            f"-dir={self.data_dir / 'weed'}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-s3.config={self.identity_path}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-master.volumeSizeLimitMB={self._volume_size_limit_mb}",
            "-disableHttp",  # no filer / master HTTP API: only S3 and (mTLS) gRPC
            "-s3.iam=false",
            "-s3.autoCreateBucket=false",  # a put must never create a bucket without object lock
            "-s3.allowDeleteBucketNotEmpty=false",
            *ports.flags(),
        ]
        for name in ("filer", "s3"):
            sock = self.data_dir / "run" / f"{name}.sock"
            if len(str(sock)) <= _MAX_SOCKET_PATH:
                argv.append(f"-{name}.localSocket={sock}")
        return argv

    def _launch(self, weed: str, ports: SeaweedPorts, deadline: float) -> bool:
        """Start one process; True when S3 answers, False when it exited early (port race)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV_PREFIXES)}
        if self._log is None:
            self._log = self.log_path.open("ab")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self._log.write(f"\n=== archive: starting weed mini at {stamp}, ports {ports} ===\n".encode())
        self._log.flush()
        try:
            proc = subprocess.Popen(
                self._argv(weed, ports),
                cwd=self.config_dir,  # weed also looks for ./security.toml
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ToolError(f"cannot run {weed}: {exc}") from exc
        self._proc, self._ports = proc, ports
        self._finalizer = weakref.finalize(self, terminate, proc, 5.0)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._halt()
                return False
            if answers(ports.s3):
                return True
            time.sleep(0.05)
        self._halt()
        raise ToolError(
            f"SeaweedFS S3 did not answer on {HOST}:{ports.s3} within {self._start_timeout:.0f} s; "
            f"last log lines:\n{self.last_log_lines()}"
        )

    def _remove_sockets(self) -> None:
        """Remove unix sockets weed left behind (its gRPC ones are hard-wired into /tmp)."""
        if self._ports is None:
            return
        paths = [self.data_dir / "run" / "filer.sock", self.data_dir / "run" / "s3.sock"]
        for name, port in zip(SeaweedPorts.NAMES, self._ports.grpc(), strict=True):
            paths.append(Path(f"/tmp/seaweedfs-{name}-grpc-{port}.sock"))  # noqa: S108 - weed's path
        for path in paths:
            try:
                st = path.lstat()
                if stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid():
                    path.unlink()
            except OSError:
                continue
