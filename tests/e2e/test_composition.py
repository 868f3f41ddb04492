"""The composition root builds each long-lived part once per process: counted in a running
`archive up` (its own process, so nothing of other tests is counted)."""

import json
import subprocess
import sys
import textwrap

import pytest

from tests.fixtures.ports import free_port

# Run in a fresh interpreter: start `archive up` in the main thread; a probe thread waits for the
# API, counts the live instances of each part's class with the garbage collector, then stops it.
DRIVER = textwrap.dedent('''
    import gc, json, os, signal, sys, threading, time, urllib.error, urllib.request
    from sqlalchemy.engine import Engine
    from archive.audit.log import GroupCommit
    from archive.audit.service import AuditTrail
    from archive.cli import main
    from archive.export.jobs import BuildRunner
    from archive.export.service import ExportService
    from archive.identity.service import IdentityService
    from archive.ledger.checkpoints import Checkpointer
    from archive.ledger.keyring import KeyRing
    from archive.ledger.service import Ledger
    from archive.ledger.writers import WriterClaims
    from archive.recorder.service import Recorder
    from archive.bootstrap.journal import TrailJournal
    from archive.retention.holds import HoldService
    from archive.retention.jobs import RetentionJobs
    from archive.retention.service import RetentionService
    from archive.retention.upload import PolicyStore
    from archive.scheduler import JobScheduler
    from archive.search.service import SearchService
    PARTS = [Engine, Ledger, KeyRing, AuditTrail, GroupCommit, HoldService, TrailJournal, PolicyStore, RetentionService,
             RetentionJobs, JobScheduler, Checkpointer, ExportService, BuildRunner, IdentityService, SearchService,
             Recorder, WriterClaims]
    config, port = sys.argv[1], int(sys.argv[2])
    counts = {}
    def probe():
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
                break
            except urllib.error.HTTPError:
                break  # answering (503 while a camera is down is an answer)
            except OSError:
                time.sleep(0.5)
        gc.collect()
        objs = gc.get_objects()
        for cls in PARTS:
            counts[cls.__name__] = sum(1 for o in objs if isinstance(o, cls))
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=probe, daemon=True).start()
    rc = main(["--config", config, "up"])
    print("COUNTS " + json.dumps(counts))
    sys.exit(rc)
''')


@pytest.mark.slow
def test_archive_up_builds_each_part_once(tmp_path):
    port = free_port()
    cfg = tmp_path / "archive.toml"
    cfg.write_text(f'[paths]\ndata_dir = "var"\n[recorder]\nsegment_seconds = 4\n[api]\nport = {port}\n')
    (tmp_path / "cams.yaml").write_text(textwrap.dedent('''
        owners:
          - {id: dishub, name: Dinas Perhubungan, kind: government, agencies: [police]}
        cameras:
          - {id: dishub-001, name: Simpang, owner: dishub, stream_url: "rtsp://127.0.0.1:9/none",
             latitude: -7.47, longitude: 112.43, location: Simpang Empat}
    '''))
    env_cmd = [sys.executable, "-c", DRIVER, str(cfg), str(port)]
    imp = subprocess.run([sys.executable, "-m", "archive", "--config", str(cfg), "cameras", "import",
                          str(tmp_path / "cams.yaml")], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert imp.returncode == 0, imp.stderr
    run = subprocess.run(env_cmd, capture_output=True, text=True, cwd=tmp_path, timeout=240)
    line = next((x for x in run.stdout.splitlines() if x.startswith("COUNTS ")), None)
    assert line is not None, run.stdout + run.stderr
    counts = json.loads(line.removeprefix("COUNTS "))
    # the API runs in its own child process (archive.cli.api_child): the recorder's process builds
    # no identity or search service; the key rings one per purpose (camera logs, audit log, export
    # manifests: SPEC 7.1); everything else exactly once
    api_only = {"IdentityService", "SearchService"}
    per_purpose = {"KeyRing": 3}
    assert counts and all(n == (0 if name in api_only else per_purpose.get(name, 1)) for name, n in counts.items()), \
        counts
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
