"""The recorder's parts as the :class:`~archive.bootstrap.runtime.Runtime` builds them: recording
specs (credentials put back into each camera's URL, the writer-claim epoch in its spool names) and
the one :class:`~archive.recorder.service.Recorder` of a process (ingest into the store and the
evidence logs)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, urlsplit, urlunsplit

from archive.catalog.registry import RegistryRepository
from archive.config import Config, RecorderConfig
from archive.ledger.service import Ledger
from archive.ledger.writers import WriterClaims
from archive.model import Camera
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.ingest import Ingester
from archive.recorder.ledger_sink import LedgerSink
from archive.recorder.service import Recorder
from archive.recorder.supervisor import SupervisorSettings
from archive.retention.upload import UploadRetention
from archive.storage.base import ObjectStore

__all__ = ["build_recorder", "recording_specs"]


def recording_specs(registry: RegistryRepository, claims: WriterClaims, rc: RecorderConfig,
                    cameras: Sequence[Camera]) -> list[RecordingSpec]:  # fmt: skip
    """Recording specs with each camera's decrypted credentials put back into its URL and the epoch
    of the writer claim this process holds for it (None when it holds none).

    Raises ValidationError (bad URL or segment length), SecretError, CatalogError.
    """
    specs = []
    for cam in cameras:
        url = cam.stream_url
        creds = registry.credentials(cam.id)
        if cam.username or creds is not None:
            parts = urlsplit(url)
            userinfo = quote(cam.username or "", safe="")
            if creds is not None:
                userinfo += ":" + quote(creds.password, safe="")
            url = urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))
        held = claims.held(cam.id)
        specs.append(RecordingSpec.create(cam.id, url, segment_seconds=rc.segment_seconds,
                                          flush_packets=rc.flush_packets, camera_clock=rc.camera_clock,
                                          writer_epoch=None if held is None else held.epoch))  # fmt: skip
    return specs


def build_recorder(config: Config, store: ObjectStore, ledger: Ledger, retention: UploadRetention,
                   specs: Sequence[RecordingSpec]) -> Recorder:  # fmt: skip
    """A recorder for ``specs`` whose segments go to ``store`` (media bucket) and ``ledger``.
    Raises what :class:`Recorder` raises (ValidationError, ToolError, ConfigError)."""
    rc = config.recorder
    ingester = Ingester(store, LedgerSink(ledger), bucket=config.storage.media_bucket, retention=retention,
                        workers=rc.upload_workers,
                        # in-process TS parser: framecrc's facts at ~5 instead of ~65 ms CPU per 10 s segment
                        probe_tool="python")  # (hash included; measured, see probe.facts_from_ts)
    settings = SupervisorSettings(spool_root=config.spool_dir, spool_max_bytes=rc.spool_max_bytes,
                                  spool_alarm_fraction=rc.spool_alarm_fraction, ffmpeg=rc.ffmpeg or None)
    return Recorder(specs, settings, ingester=ingester)
