"""archive.recorder: record every camera with ffmpeg stream copy and move each segment into S3.

Modules (imports go inward; only ``ingest_job`` touches the object store, via the protocol):

* :mod:`.ffmpeg`      RecordingSpec (validated), the argv builder, the input-option allow-list,
                      and in its docstring why the container is MPEG-TS.
* :mod:`.spool`       per-camera spool directory: runs, finished / in-progress / partial files,
                      byte accounting, the only deletion path (needs the store's confirmation).
* :mod:`.probe`       sha256 + media facts from one read of a segment (in-process TS parser, else ffmpeg framecrc).
* :mod:`.sink`        SegmentRecord, GapRecord, GapReason, the SegmentSink protocol.
* :mod:`.ingest_job`  one segment: probe, timing, put with retention, confirm by HEAD.
* :mod:`.ingest`      the Ingester: ordered commits per camera, bounded uploads, retries, gaps.
* :mod:`.process`     one ffmpeg process under asyncio (progress, log, stop, exit reason).
* :mod:`.supervisor`  one CameraWorker per enabled camera: reconnect, watchdog, spool limit.
* :mod:`.service`     Recorder: the supervisor on its own thread plus the ingester, for sync callers.
* :mod:`.status`      frozen snapshots (CameraStatus, RecorderStatus, IngestStatus).
"""
