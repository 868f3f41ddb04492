from pathlib import Path

import pytest

from archive.config import load_config, mask_url, masked
from archive.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "archive.toml"
    p.write_text(text)
    return p


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(env={})
    assert cfg.storage.mode == "embedded"
    assert cfg.recorder.segment_seconds == 10
    assert cfg.catalog_url == f"sqlite:///{tmp_path / 'var' / 'catalog.sqlite3'}"


def test_file_values_and_relative_paths(tmp_path):
    p = write(tmp_path, '[paths]\ndata_dir = "state"\n[recorder]\nsegment_seconds = 6\n')
    cfg = load_config(p, env={})
    assert cfg.data_dir == tmp_path / "state"
    assert cfg.recorder.segment_seconds == 6


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[storag]\nmode='s3'\n", "unknown section [storag]"),
        ("[storage]\nmodee='s3'\n", "unknown key 'modee'"),
        ("[recorder]\nsegment_seconds='ten'\n", "recorder.segment_seconds: expected an integer"),
        ("[recorder]\nsegment_seconds=61\n", "segment_seconds must be between 2 and 60"),
        ("[storage]\nmode='s3'\n", "needs storage.endpoint"),
        ("[storage]\nlock_mode='LOOSE'\n", "lock_mode must be GOVERNANCE or COMPLIANCE"),
        ("[catalog]\nurl='mysql://x'\n", "catalog.url must be"),
        ("storage = 3\n", "'storage' must be a table"),
        ("[storage\n", "not valid TOML"),
        ("[api]\npublic_url='archive.example'\n", "api.public_url must be an absolute http(s) URL"),
        ("[api]\npublic_url='https://u:p@archive.example'\n", "api.public_url must be an absolute http(s) URL"),
    ],
)
def test_bad_files_name_key_and_file(tmp_path, text, needle):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(p, env={})
    assert needle in str(exc.value)
    if "TOML" not in needle:
        assert str(p) in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_env_overrides_and_unknown_env(tmp_path):
    p = write(tmp_path, "[recorder]\nsegment_seconds = 6\n")
    cfg = load_config(p, env={"ARCHIVE_RECORDER_SEGMENT_SECONDS": "12", "ARCHIVE_STORAGE_SECURE": "false"})
    assert cfg.recorder.segment_seconds == 12
    assert cfg.storage.secure is False
    with pytest.raises(ConfigError, match="unknown variable ARCHIVE_BOGUS_X"):
        load_config(p, env={"ARCHIVE_BOGUS_X": "1"})
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        load_config(p, env={"ARCHIVE_API_COLOUR": "1"})
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(p, env={"ARCHIVE_API_PORT": "http"})


def test_env_config_path(tmp_path):
    p = write(tmp_path, "[api]\nport = 9000\n")
    assert load_config(env={"ARCHIVE_CONFIG": str(p)}).api.port == 9000


def test_masked_hides_secrets(tmp_path):
    p = write(tmp_path, "[storage]\nmode='s3'\nendpoint='s3.example:9000'\naccess_key='AKIA1'\n"
                        "secret_key='topsecret'\n[catalog]\nurl='postgresql://u:pgpass@db/archive'\n")
    m = masked(load_config(p, env={}))
    assert m["storage"]["secret_key"] == "***" and m["storage"]["access_key"] == "***"
    assert "pgpass" not in str(m) and "topsecret" not in str(m)
    assert m["catalog"]["url"] == "postgresql://u:***@db/archive"


def test_mask_url():
    assert mask_url("rtsp://admin:p%40ss@10.0.0.5:554/ch1") == "rtsp://admin:***@10.0.0.5:554/ch1"
    assert mask_url("rtsp://10.0.0.5/ch1") == "rtsp://10.0.0.5/ch1"
    assert mask_url("rtsp://user@10.0.0.5/ch1") == "rtsp://user@10.0.0.5/ch1"


@pytest.mark.parametrize("line", ["max_connections = 8", "limit_concurrency = 0", "limit_concurrency = 600",
                                  "backlog = 0", "keepalive_seconds = 0", "header_timeout_seconds = 0.5",
                                  "max_header_bytes = 100", "failed_auth_limit = -1",
                                  "failed_auth_window_seconds = 0"])
def test_api_limits_are_validated(tmp_path, line):
    with pytest.raises(ConfigError, match=rf"api\.{line.split()[0]}"):
        load_config(write(tmp_path, f"[api]\n{line}\n"), env={})


def test_api_limits_have_safe_defaults(tmp_path):
    api = load_config(write(tmp_path, "[api]\nport = 9000\n"), env={}).api
    assert (api.max_connections, api.limit_concurrency, api.header_timeout_seconds) == (512, 256, 10.0)
    assert (api.failed_auth_limit, api.failed_auth_window_seconds) == (10, 60)


def test_node_section_defaults_values_and_refusals(tmp_path):
    cfg = load_config(env={})
    assert (cfg.node.name, cfg.node.capacity, cfg.node.lease_ttl_s, cfg.node.renew_every_s) == ("", 1.0, 15.0, 5.0)
    p = write(tmp_path, '[node]\nname = "rec-1"\ncapacity = 2\nlease_ttl_s = 6\nrenew_every_s = 2\n')
    node = load_config(p, env={}).node
    assert (node.name, node.capacity, node.lease_ttl_s, node.renew_every_s) == ("rec-1", 2.0, 6.0, 2.0)
    assert load_config(p, env={"ARCHIVE_NODE_NAME": "rec-2"}).node.name == "rec-2"
    for line, needle in [('colour = "red"', "unknown key 'colour'"), ('name = "a b"', "node name"),
                         ("capacity = 0", "node.capacity"), ("lease_ttl_s = 1", "node.lease_ttl_s"),
                         ("renew_every_s = 10", "node.renew_every_s")]:  # fmt: skip
        with pytest.raises(ConfigError, match=needle):
            load_config(write(tmp_path, f"[node]\n{line}\n"), env={})


def test_camera_clock_is_off_unless_turned_on(tmp_path):
    assert load_config(write(tmp_path, ""), env={}).recorder.camera_clock is False
    on = load_config(write(tmp_path, "[recorder]\ncamera_clock = true\n"), env={})
    assert on.recorder.camera_clock is True
    with pytest.raises(ConfigError, match="camera_clock"):
        load_config(write(tmp_path, "[recorder]\ncamera_clock = 'sometimes'\n"), env={})
