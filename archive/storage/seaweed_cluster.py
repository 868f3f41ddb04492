"""A replicated SeaweedFS cluster on loopback: one master, a volume server per rack, a filer and an
S3 gateway, each its own ``weed`` process (``ops/seaweed-cluster.sh`` and the tests run it).

The master runs ``-defaultReplication=010``: every volume has one more copy on another rack of
the same data center, so a volume server can die without losing a write. Identities, the
one-time Admin session that makes the buckets and the warm-up write are the embedded store's
(:mod:`archive.storage.seaweed_identities`, :mod:`archive.storage.seaweed_provision`); the
gRPC mutual TLS and JWT lock-down is :mod:`archive.storage.seaweed_security` (one CA and one
``security.toml`` shared by every process of the cluster, made at each full start).

Data directory layout (mode 0700)::

    s3.json, buckets.json  the identities and the buckets made (as the embedded store)
    cluster.json           ports and process ids of the running cluster (what stop/status read)
    conf/                  security.toml and the gRPC CA, certificate and key (0600)
    logs/NAME.log          what each process prints (master, volume-r1.., filer, s3)
    master/, filer/, volume-r1/ ...   each server's own data

Processes are started in their own session, so they outlive the Python process that started
them (the shell script starts, then exits); :meth:`SeaweedCluster.stop` ends them by the pids in
``cluster.json``. Methods raise :class:`ToolError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.errors import ToolError
from archive.storage.seaweed_identities import (
    ServiceIdentities,
    load_or_create_identities,
    new_credentials,
    write_identities,
)
from archive.storage.seaweed_layout import VolumeCopies, parse_volume_list
from archive.storage.seaweed_ports import GRPC_OFFSET, HOST, free_port_pairs
from archive.storage.seaweed_proc import answers, end_pids, find_weed, listening, pid_alive
from archive.storage.seaweed_provision import create_buckets, missing_buckets, record_buckets, warm_up
from archive.storage.seaweed_security import S3Credentials, write_security_config

__all__ = ["RACKS", "ClusterPorts", "SeaweedCluster", "VolumeCopies"]

RACKS = ("r1", "r2", "r3")
DATA_CENTER = "dc1"
STATE_FILE = "cluster.json"
_PORT_TAKEN = "address already in use"  # what weed prints when its port was taken
_SCRUBBED_ENV_PREFIXES = ("WEED_", "AWS_", "S3_")


@dataclass(frozen=True)
class ClusterPorts:
    """HTTP ports (gRPC: + 10000) of the master, the filer, the S3 gateway and each volume server."""

    master: int
    filer: int
    s3: int
    volumes: tuple[int, ...]


class SeaweedCluster:
    """Master + one volume server per rack (``racks``) + filer + S3 gateway on 127.0.0.1.

    ``replication`` is the master's ``-defaultReplication`` (``010``: two copies on two racks;
    ``000``: one copy, what the fail-first tests compare with). ``buckets`` and ``keep_admin``
    mean what they mean for :class:`archive.storage.seaweed.EmbeddedSeaweed`.
    """

    region = "us-east-1"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        weed: str | os.PathLike[str] | None = None,
        racks: Sequence[str] = RACKS,
        replication: str = "010",
        buckets: Sequence[str] = (),
        keep_admin: bool = False,
        volume_size_limit_mb: int = 64,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.racks = tuple(racks)
        self.replication = replication
        self._weed = weed
        self._buckets = tuple(buckets)
        self._admin = new_credentials() if keep_admin else None
        self._volume_size_limit_mb = volume_size_limit_mb
        self._start_timeout = start_timeout
        self._identities: ServiceIdentities | None = None

    # -- facts -----------------------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        """security.toml and the gRPC certificates shared by every process."""
        return self.data_dir / "conf"

    @property
    def identity_path(self) -> Path:
        """The S3 gateway's identity file (``-config``)."""
        return self.data_dir / "s3.json"

    def log_path(self, name: str) -> Path:
        """The log of one process (``master``, ``filer``, ``s3``, ``volume-r1`` ...)."""
        return self.data_dir / "logs" / f"{name}.log"

    @property
    def identities(self) -> ServiceIdentities:
        """The two service identities (made on first use, as the embedded store's)."""
        if self._identities is None:
            self._mkdir(self.data_dir)
            self._identities = load_or_create_identities(self.identity_path)
        return self._identities

    @property
    def credentials(self) -> S3Credentials:
        """The ``archive-ingest`` key pair."""
        return self.identities.ingest

    @property
    def retention_credentials(self) -> S3Credentials:
        """The ``archive-retention`` key pair."""
        return self.identities.retention

    @property
    def admin_credentials(self) -> S3Credentials:
        """The Admin key pair kept with ``keep_admin`` (tests only). Raises ToolError without it."""
        if self._admin is None:
            raise ToolError("this SeaweedFS cluster keeps no Admin identity (keep_admin=False)")
        return self._admin

    def _state(self) -> dict[str, object]:
        try:
            state = json.loads((self.data_dir / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    @property
    def ports(self) -> ClusterPorts:
        """Ports of the running (or last) cluster. Raises ToolError before the first start."""
        raw = self._state().get("ports")
        if not isinstance(raw, dict):
            raise ToolError(f"no SeaweedFS cluster has been started in {self.data_dir}")
        return ClusterPorts(int(raw["master"]), int(raw["filer"]), int(raw["s3"]),
                            tuple(int(p) for p in raw["volumes"]))  # fmt: skip

    @property
    def endpoint(self) -> str:
        """``host:port`` of the S3 gateway."""
        return f"{HOST}:{self.ports.s3}"

    @property
    def master_address(self) -> str:
        """``host:port`` of the master (its gRPC port is + 10000)."""
        return f"{HOST}:{self.ports.master}"

    def pids(self) -> dict[str, int]:
        """Process id of each process the state file names (alive or not)."""
        raw = self._state().get("pids")
        return {str(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    def _ours(self, pid: int) -> bool:
        """True while ``pid`` is alive and a weed of this cluster (not a process that reused the pid)."""
        if not pid_alive(pid):
            return False
        try:
            return f"-config_dir={self.config_dir}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def status(self) -> dict[str, bool]:
        """Whether each process of the cluster is alive (empty when none was started or it was stopped)."""
        return {name: self._ours(pid) for name, pid in self.pids().items()}

    @property
    def running(self) -> bool:
        """True while every process of the cluster is alive."""
        st = self.status()
        return bool(st) and all(st.values())

    def last_log_lines(self, name: str, count: int = 20) -> str:
        """The last ``count`` lines of one process's log (empty if there is none)."""
        try:
            return "\n".join(self.log_path(name).read_text("utf-8", "replace").splitlines()[-count:])
        except OSError:
            return ""

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start every process and wait until each bucket took a write. Raises ToolError (with the
        failing process's last log lines); what was started is stopped again on failure. A port
        taken by another program between choice and bind: up to three attempts on new ports."""
        if any(self.status().values()):
            raise ToolError(f"a SeaweedFS cluster already runs in {self.data_dir} (stop it first)")
        weed = find_weed(self._weed)
        for attempt in range(3):
            try:
                self._start_once(weed)
                return
            except ToolError as exc:
                self.stop()
                if _PORT_TAKEN not in str(exc) or attempt == 2:
                    raise
            except BaseException:
                self.stop()
                raise

    def _start_once(self, weed: str) -> None:
        self._prepare()
        ids = self.identities
        master, filer, s3, *volumes = free_port_pairs(3 + len(self.racks))
        self._save(ports=ClusterPorts(master, filer, s3, tuple(volumes)), pids={})
        deadline = time.monotonic() + self._start_timeout
        self._launch(weed, "master", deadline)
        for rack in self.racks:
            self._launch(weed, f"volume-{rack}", deadline)
        self._launch(weed, "filer", deadline)
        missing = missing_buckets(self.data_dir, self._buckets)
        if missing:  # the one-time Admin session, in the S3 gateway only
            admin = self._admin or new_credentials()
            write_identities(self.identity_path, ids, admin=admin)
            try:
                self._launch(weed, "s3", deadline)
                create_buckets(self.endpoint, admin, missing)
                record_buckets(self.data_dir, missing)
            finally:
                self.stop_process("s3")
                write_identities(self.identity_path, ids, admin=self._admin)
        write_identities(self.identity_path, ids, admin=self._admin)
        self._launch(weed, "s3", deadline)
        warm_up(self.endpoint, ids.ingest, self._buckets, max(5.0, deadline - time.monotonic()))

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the S3 gateway, the filer and the volume servers at once, then the master;
        SIGKILL what still runs after ``timeout`` seconds (the filer's graceful gRPC stop can hang:
        measured 10 s). Idempotent."""
        pids = {name: pid for name, pid in self.pids().items() if self._ours(pid)}
        end_pids([pid for name, pid in pids.items() if name != "master"], signal.SIGTERM, timeout)
        if "master" in pids:
            end_pids([pids["master"]], signal.SIGTERM, timeout)
        if self._state():
            self._save(pids={})

    def stop_process(self, name: str, timeout: float = 10.0) -> None:
        """End one process gracefully (SIGTERM, then SIGKILL after ``timeout``)."""
        pid = self.pids().get(name)
        if pid is not None and self._ours(pid):
            end_pids([pid], signal.SIGTERM, timeout)

    def kill_process(self, name: str) -> None:
        """``kill -9`` one process (e.g. ``volume-r2``), as a crash would; waits until it is gone."""
        pid = self.pids().get(name)
        if pid is None:
            raise ToolError(f"the cluster has no process {name}")
        if self._ours(pid):
            end_pids([pid], signal.SIGKILL, 5.0)

    def restart_process(self, name: str) -> None:
        """Start one stopped process again on its old ports and data. Raises ToolError."""
        if self.status().get(name):
            return
        self._launch(find_weed(self._weed), name, time.monotonic() + self._start_timeout)

    # -- replication -----------------------------------------------------------------------
    def shell(self, commands: str, timeout: float = 30.0) -> str:
        """Run ``weed shell`` commands against the master (over mutual TLS); their output."""
        argv = [find_weed(self._weed), f"-config_dir={self.config_dir}", "shell", f"-master={self.master_address}"]
        try:
            done = subprocess.run(argv, input=commands + "\nexit\n", capture_output=True, text=True, timeout=timeout,
                                  cwd=self.config_dir, env=self._env(), check=False)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError(f"weed shell failed: {exc}") from exc
        return done.stdout

    def volume_copies(self, collection: str | None = None) -> list[VolumeCopies]:
        """Every volume (of ``collection`` when given) with the racks holding a copy, as the master
        reports it (``volume.list``). Raises ToolError when the master does not answer."""
        out = self.shell("volume.list")
        vols = parse_volume_list(out)
        if not vols and "DataCenter" not in out:
            raise ToolError(f"the master did not list its volumes: {out[-500:]!r}")
        return [v for v in vols if collection is None or v.collection == collection]

    def copy_sizes(self, collection: str) -> dict[int, dict[str, int]]:
        """Bytes of each volume's data file of ``collection`` on each rack's disk, read from the
        volume servers' folders (what is really stored, whatever the master believes)."""
        out: dict[int, dict[str, int]] = {}
        for rack in self.racks:
            for dat in (self.data_dir / f"volume-{rack}").glob(f"{collection}_*.dat"):
                vid = dat.stem.removeprefix(f"{collection}_")
                if vid.isdigit():
                    with contextlib.suppress(OSError):
                        out.setdefault(int(vid), {})[rack] = dat.stat().st_size
        return out

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _mkdir(path: Path) -> None:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.chmod(0o700)
        except OSError as exc:
            raise ToolError(f"cannot create {path}: {exc}") from exc

    def _prepare(self) -> None:
        self._mkdir(self.data_dir)
        for sub in ("logs", "master", "filer", *(f"volume-{r}" for r in self.racks)):
            self._mkdir(self.data_dir / sub)
        write_security_config(self.config_dir)

    def _save(self, *, ports: ClusterPorts | None = None, pids: dict[str, int] | None = None) -> None:
        state = self._state()
        if ports is not None:
            state["ports"] = {"master": ports.master, "filer": ports.filer, "s3": ports.s3,
                              "volumes": list(ports.volumes)}  # fmt: skip
        if pids is not None:
            state["pids"] = pids
        try:
            (self.data_dir / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
        except OSError as exc:
            raise ToolError(f"cannot write {self.data_dir / STATE_FILE}: {exc}") from exc

    def _env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV_PREFIXES)}

    def _argv(self, weed: str, name: str) -> tuple[list[str], int]:
        """The command line of one process and the port that answers when it is up."""
        p, d = self.ports, self.data_dir
        head = [weed, "-logtostderr", f"-config_dir={self.config_dir}"]
        master = f"{HOST}:{p.master}"
        if name == "master":
            return [*head, "master", f"-mdir={d / 'master'}", f"-ip={HOST}", f"-ip.bind={HOST}", f"-port={p.master}",
                           f"-port.grpc={p.master + GRPC_OFFSET}", "-peers=none", "-telemetry=false",
                           f"-defaultReplication={self.replication}", "-disableHttp",
                           f"-volumeSizeLimitMB={self._volume_size_limit_mb}"], p.master + GRPC_OFFSET  # fmt: skip
        if name.startswith("volume-"):
            rack = name.removeprefix("volume-")
            port = p.volumes[self.racks.index(rack)]
            return [*head, "volume", f"-dir={d / name}", "-max=0", f"-mserver={master}", f"-ip={HOST}",
                           f"-ip.bind={HOST}", f"-port={port}", f"-port.grpc={port + GRPC_OFFSET}",
                           f"-dataCenter={DATA_CENTER}", f"-rack={rack}", "-minFreeSpace=1GiB",
                           "-preStopSeconds=1"], port  # fmt: skip
        if name == "filer":
            return [*head, "filer", f"-master={master}", f"-ip={HOST}", f"-ip.bind={HOST}", f"-port={p.filer}",
                           f"-port.grpc={p.filer + GRPC_OFFSET}", f"-defaultStoreDir={d / 'filer'}",
                           "-disableHttp", "-webdav=false", "-s3=false"], p.filer + GRPC_OFFSET  # fmt: skip
        if name == "s3":
            return [*head, "s3", f"-filer={HOST}:{p.filer}", f"-ip.bind={HOST}", f"-port={p.s3}",
                           f"-port.grpc={p.s3 + GRPC_OFFSET}", f"-config={self.identity_path}", "-port.iceberg=0",
                           "-port.lance=0", "-iam=false", "-autoCreateBucket=false",
                           "-allowDeleteBucketNotEmpty=false"], p.s3  # fmt: skip
        raise ToolError(f"the cluster has no process {name}")

    def _launch(self, weed: str, name: str, deadline: float) -> None:
        argv, port = self._argv(weed, name)
        try:
            with self.log_path(name).open("ab") as log:
                log.write(f"\n=== archive: starting {name} at {time.strftime('%Y-%m-%dT%H:%M:%S%z')} ===\n".encode())
                log.flush()
                proc = subprocess.Popen(argv, cwd=self.config_dir, env=self._env(), stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        except OSError as exc:
            raise ToolError(f"cannot run {weed} {name}: {exc}") from exc
        self._save(pids={**self.pids(), name: proc.pid})
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ToolError(f"SeaweedFS {name} exited at start; last log lines:\n{self.last_log_lines(name)}")
            if answers(port) if name == "s3" else listening(port):
                return
            time.sleep(0.05)
        raise ToolError(f"SeaweedFS {name} did not answer on {HOST}:{port}; last log lines:\n"
                        f"{self.last_log_lines(name)}")  # fmt: skip

    def __repr__(self) -> str:
        return f"SeaweedCluster({str(self.data_dir)!r}, replication={self.replication!r}, status={self.status()})"
