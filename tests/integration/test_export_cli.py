"""``archive export request|approve|refuse|build|download|list|show|custody|key`` and
``archive verify package`` over a real configuration (catalog, embedded store, policies)."""

from __future__ import annotations

import io
import json
import re
import types
import uuid
from pathlib import Path

from archive.bootstrap import Runtime
from archive.cli import main
from archive.config import load_config
from archive.identity.service import IdentityService
from archive.ledger.service import Ledger
from archive.ledger.settings import ledger_settings
from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.claims import claiming_writer
from tests.fixtures.s3 import service_store_for
from tests.integration import export_support as xs


def _run(cfg: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["--config", str(cfg), *argv], out=out), out.getvalue()


def test_export_commands(seaweed: EmbeddedSeaweed, tmp_path: Path, capsys) -> None:
    creds = seaweed.credentials
    tag = uuid.uuid4().hex[:8]
    service_store_for(seaweed, f"clim-{tag}", f"clil-{tag}")  # the service identity cannot make buckets
    cfg = tmp_path / "archive.toml"
    cfg.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "var"}"\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nmedia_bucket = "clim-{tag}"\nlog_bucket = "clil-{tag}"\n'
        f'[catalog]\nurl = "sqlite:///{tmp_path / "catalog.sqlite3"}"\n'
        f'[secrets]\nkey_file = "{tmp_path / "keys" / "credentials.key"}"\n'
        f'[retention]\npolicies_dir = "{xs.policies_dir(tmp_path)}"\n', encoding="utf-8")
    config = load_config(cfg)

    def tok(uid: str) -> str:  # the CLI acts as the registered user of a token
        return str(tmp_path / f"{uid}.token")

    with Runtime(config) as rt:
        rt.registry.apply(xs.OWNERS, [(c, None) for c in xs.CAMERAS])
        ident = IdentityService(rt.engine)
        for uid, (name, role, agency, owner) in xs.USERS.items():
            ident.add_user(uid, name, role, agency=agency, owner_id=owner)
            (tmp_path / f"{uid}.token").write_text(ident.create_token(uid, days=1).secret, encoding="utf-8")
        ledger = Ledger(rt.engine, rt.store, rt.secret_box, ledger_settings(config), claims=claiming_writer(rt.engine))
        env = types.SimpleNamespace(ledger=ledger, store=rt.store, media=config.storage.media_bucket)
        xs.record_cameras(env, xs.make_clips(tmp_path / "clips"))  # type: ignore[arg-type]
    code, out = _run(cfg, "export", "request", "--token-file", tok("inv1"), "--case", "LP/7/2025",
                     "--legal-basis", "KUHAP 43",
                     "--reason", "hit and run", "--camera", "cam-a,mall-1", "--from", "2025-03-14T16:00:01+07:00",
                     "--to", "2025-03-14T09:00:19Z")
    assert code == 0, out
    eid = re.search(r"export (\w+)", out).group(1)  # type: ignore[union-attr]
    assert "status requested" in out and "mall: pending (owner)" in out
    code, _ = _run(cfg, "export", "approve", eid, "--as", "own1", "--reason", "typed name")
    assert code == 2 and "--as" in capsys.readouterr().err  # a typed name is refused: nothing approved
    code, _ = _run(cfg, "export", "approve", eid, "--token-file", tok("admin1"))
    assert code == 1 and "staff of owner mall" in capsys.readouterr().err
    code, out = _run(cfg, "export", "approve", eid, "--token-file", tok("own1"), "--reason", "ok")
    assert code == 0 and "status approved" in out
    code, out = _run(cfg, "export", "build", eid, "--token-file", tok("admin1"), "--quiet")
    assert code == 0 and "status built" in out, out
    code, out = _run(cfg, "export", "download", eid, "--token-file", tok("inv1"), "--out", str(tmp_path))
    assert code == 0 and out.startswith("SHA-256 ") and "SHA-256 checked" in out
    sha = out.split()[1]
    (pkg,) = list(tmp_path.glob("LP_7_2025_*.zip"))
    code, out = _run(cfg, "export", "key")
    trust = re.search(r"# verify with: (.*)", out).group(1).split()  # type: ignore[union-attr]
    assert len(trust) == 4 and trust[1] != trust[3]  # the export key and the camera log key
    code, out = _run(cfg, "verify", str(pkg), *trust, "--token-file", tok("legal1"), "--quiet")
    assert code == 0 and "VERDICT: VALID" in out and f"package SHA-256: {sha}" in out and "recorded" in out
    code, out = _run(cfg, "export", "custody", eid, "--out", str(tmp_path / "custody.jsonl"))
    code, out = _run(cfg, "verify", "package", str(pkg), "--custody", str(tmp_path / "custody.jsonl"), "--quiet")
    assert code == 3 and "VERDICT: UNVERIFIED" in out, out  # consistent, but no trust root from outside the package
    code, out = _run(cfg, "verify", "package", str(pkg), "--custody", str(tmp_path / "custody.jsonl"), *trust,
                     "--quiet")
    assert code == 0 and "is the package recorded by the archive" in out, out
    code, out = _run(cfg, "export", "show", eid, "--json")
    events = [e["event"] for e in json.loads(out)["custody"]]
    assert events[-3:] == ["packaged", "downloaded", "verified"]
    code, out = _run(cfg, "export", "list", "--token-file", tok("own1"))
    assert code == 0 and eid in out and "built" in out
    code, out = _run(cfg, "export", "refuse", eid, "--token-file", tok("own1"), "--reason", "late")
    assert code == 2 and "is built, not awaiting decisions" in capsys.readouterr().err
    # A refused request releases the legal hold it placed (audited in the hold log and the custody log).
    code, out = _run(cfg, "export", "request", "--token-file", tok("inv1"), "--case", "LP/8/2025",
                     "--legal-basis", "KUHAP 43",
                     "--reason", "theft", "--camera", "mall-1", "--from", "2025-03-14T09:00:01Z",
                     "--to", "2025-03-14T09:00:09Z")  # fmt: skip
    refused = re.search(r"export (\w+)", out).group(1)  # type: ignore[union-attr]
    hold = re.search(r"legal hold (\d+)", out).group(1)  # type: ignore[union-attr]
    active = re.compile(rf"^ *{hold}  case LP/8/2025 .* active ", re.MULTILINE)
    code, out = _run(cfg, "holds", "list")
    assert code == 0 and active.search(out), out
    code, out = _run(cfg, "export", "refuse", refused, "--token-file", tok("own1"), "--reason", "no warrant")
    assert code == 0 and "status refused" in out, out
    code, out = _run(cfg, "holds", "list")
    assert not active.search(out), out
    code, out = _run(cfg, "holds", "list", "--all", "--json")
    (rel,) = [h for h in json.loads(out) if str(h["id"]) == hold]
    assert "refused by own1: no warrant" in json.dumps(rel), rel
    code, out = _run(cfg, "export", "show", refused, "--json")
    assert [e["event"] for e in json.loads(out)["custody"]][-2:] == ["refused", "hold_released"]
    code, _ = _run(cfg, "verify", str(tmp_path / "missing.zip"))
    assert code == 2  # a missing file is bad input (README: exit codes), not an INVALID package
