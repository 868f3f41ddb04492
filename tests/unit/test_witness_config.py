"""``[ledger] witnesses`` and ``[export] witness_policy`` in archive.toml (archive.witness_config),
and the witness's own file (archive.witness.settings): values parse, bad ones are refused naming
the key, URLs are masked."""

from pathlib import Path

import pytest

from archive.bootstrap.assemble import export_settings
from archive.config import load_config, masked
from archive.errors import ConfigError
from archive.integrity import Signer
from archive.ledger.witness import witness_keygen
from archive.witness.settings import load_witness_settings

W1 = witness_keygen("w1.example/witness").verifier_key.encode()
W2 = witness_keygen("w2.example/witness").verifier_key.encode()


def _cfg(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    p = tmp_path / "archive.toml"
    p.write_text(text)
    return load_config(p, env=env or {})


def test_witnesses_and_policy(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, f'[ledger]\nwitnesses = [{{url = "https://u:pw@w1.example/", key = "{W1}"}},\n'
                         f'  {{url = "http://10.0.0.7:7380", key = "{W2}"}}]\n[export]\nwitness_policy = "1 of 2"\n')
    assert [w.url for w in cfg.ledger.witnesses] == ["https://u:pw@w1.example/", "http://10.0.0.7:7380"]
    assert "pw" not in str(masked(cfg)["ledger"]["witnesses"])
    s = export_settings(cfg)
    assert s.witness_quorum == 1 and {k.encode() for k in s.witness_keys} == {W1, W2}
    env = _cfg(tmp_path, "", {"ARCHIVE_LEDGER_WITNESSES": f"http://a:1 {W1}; http://b:2 {W2}",
                              "ARCHIVE_EXPORT_WITNESS_POLICY": "2 of 2"})  # fmt: skip
    assert len(env.ledger.witnesses) == 2 and export_settings(env).witness_quorum == 2


@pytest.mark.parametrize(("text", "needle"), [
    ('[ledger]\nwitnesses = "x"\n', "ledger.witnesses[0]: expected 'URL KEY'"),
    ('[ledger]\nwitnesses = [{url = "ftp://x", key = "a+b+c"}]\n', "must be an http:// or https:// URL"),
    ('[ledger]\nwitnesses = [{url = "http://x"}]\n', "exactly url and key"),
    (f'[ledger]\nwitnesses = [{{url = "http://x", key = "{W1}"}}, {{url = "http://y", key = "{W1}"}}]\n', "twice"),
    ('[export]\nwitness_policy = "most"\n', "expected 'q of n'"),
    ('[export]\nwitness_policy = "3 of 2"\n', "q must be between 1 and n"),
    ('[export]\nwitness_policy = "1 of 1"\n', "the archive knows 0 witness keys"),
    ('[export]\npolicy = "1 of 1"\n', "unknown key 'policy'"),
])  # fmt: skip
def test_bad_witness_settings_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=None) as exc:
        export_settings(_cfg(tmp_path, text))
    assert needle in str(exc.value)


def test_a_log_key_is_not_a_witness_key(tmp_path: Path) -> None:
    log_key = Signer.generate("archive.example").verifier_key.encode()
    cfg = _cfg(tmp_path, f'[ledger]\nwitnesses = [{{url = "http://x", key = "{log_key}"}}]\n')
    with pytest.raises(ConfigError, match=r"ledger.witnesses\[0\].key: not a witness verifier key"):
        export_settings(cfg)


def test_witness_file(tmp_path: Path) -> None:
    signer = witness_keygen("police.example/witness")
    (tmp_path / "w.key").write_text(signer.encode() + "\n")
    log = Signer.generate("archive.example").verifier_key.encode()
    p = tmp_path / "witness.toml"
    p.write_text(f'[witness]\nkey_file = "w.key"\nport = 7390\n[[log]]\norigin_prefix = "archive.example/camera/"\n'
                 f'keys = ["{log}"]\n[[log]]\norigin = "other.example/log"\nkeys = ["{log}"]\n')
    s = load_witness_settings(p)
    assert s.port == 7390 and s.state_file == tmp_path / "state.json" and s.signer.encode() == signer.encode()
    (key,) = s.log_keys("archive.example/camera/cam-1") or []
    assert key.name == "archive.example/camera/cam-1"
    assert s.log_keys("archive.example/audit") is None and s.log_keys("other.example/log") is not None
    for bad, needle in [
        ("[witness]\nkey_file = 'w.key'\n", "at least one [[log]]"),
        ("[witnes]\n", "unknown table [witnes]"),
        (f"[witness]\nkey_file = 'w.key'\nbind = 1\n[[log]]\norigin = 'a'\nkeys = ['{log}']\n", "unknown key 'bind'"),
        (f"[witness]\nkey_file = 'nope.key'\n[[log]]\norigin = 'a'\nkeys = ['{log}']\n", "no such file"),
        ("[witness]\nkey_file = 'w.key'\n[[log]]\norigin = 'a'\nkeys = ['x']\n", "is not a verifier key"),
        (f"[witness]\nkey_file = 'w.key'\n[[log]]\norigin = 'a'\norigin_prefix = 'b'\nkeys = ['{log}']\n",
         "exactly one of origin and origin_prefix"),
        (f"[witness]\nkey_file = 'w.key'\n[[log]]\norigin = 'a'\nkeys = ['{signer.verifier_key.encode()}']\n",
         "a witness (type 0x04) key is not a log key"),
    ]:
        p.write_text(bad)
        with pytest.raises(ConfigError) as exc:
            load_witness_settings(p)
        assert needle in str(exc.value), (bad, exc.value)
    (tmp_path / "log.key").write_text(Signer.generate("archive.example").encode())
    p.write_text(f"[witness]\nkey_file = 'log.key'\n[[log]]\norigin = 'a'\nkeys = ['{log}']\n")
    with pytest.raises(ConfigError, match="not a witness"):
        load_witness_settings(p)
