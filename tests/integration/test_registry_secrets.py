"""Camera import with passwords holding URL delimiters: parsed right or refused, never echoed.

Issue 14 item 13: ``rtsp://u:pa#ss@host/`` was split by urlsplit at the ``#`` and the error
("Port could not be cast to integer value as 'pa'") showed part of the password.
"""

import re

import pytest

from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.catalog.registry import RegistryRepository
from archive.cli import main
from archive.errors import ValidationError
from archive.registry.importer import import_registry
from archive.secretbox import SecretBox

CAMERA = """\
owners:
  - id: mall
    name: Test Mall
    kind: private
cameras:
  - id: mall-1
    name: Lobby
    owner: mall
    stream_url: "{url}"
    latitude: -7.47
    longitude: 112.43
    location: Lobby
"""
# Passwords with the delimiters that urlsplit cuts at, each written raw into the URL.
PASSWORDS = ["Zq#Xv9", "Zq/Xv9", "Zq?Xv9", "Zq#Xv/Wk?Jy:9@Hm", "Zá#ßq/wö?9", "Zq:Xv#", "Zq@Xv#Wk"]


@pytest.fixture
def repo(catalog_url, tmp_path):
    engine = make_engine(catalog_url)
    upgrade(engine)
    yield RegistryRepository(engine, SecretBox.from_key_file(tmp_path / "keys" / "k"))
    engine.dispose()


def _fragments(password: str) -> list[str]:
    """Every piece of the password between delimiters that is long enough to mean something."""
    pieces = [p for p in re.split(r"[#/?:@]", password) if len(p) >= 2]
    return [*pieces, password]


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("host", ["10.0.0.5:554", "cam.example", "[fd00::5]:8554"])
def test_password_with_delimiters_is_parsed_right_and_stored(repo, tmp_path, password, host):
    path = tmp_path / "cams.yaml"
    path.write_text(CAMERA.format(url=f"rtsp://viewer:{password}@{host}/ch1?sub=1"), encoding="utf-8")
    try:
        import_registry(path, repo)
    except ValidationError as exc:  # refusing is allowed, echoing is not
        for piece in _fragments(password):
            for problem in exc.problems:
                assert piece not in problem.message, f"{piece!r} of the password is in the error: {problem}"
        return
    cam = repo.camera("mall-1")
    assert cam.stream_url == f"rtsp://{host}/ch1?sub=1"
    assert cam.username == "viewer"
    creds = repo.credentials("mall-1")
    assert creds is not None and creds.password == password


@pytest.mark.parametrize("url", ["rtsp://viewer:1234/Xv#Wk@cam.example/ch1", "rtsp://viewer:Zq#Xv:Wk@h:x/",
                                 "rtsp://viewer:\uff3a\uff51\uff20Xv@cam.example/ch1"])  # fullwidth "Zq@": NFKC check
def test_refused_url_messages_hold_no_part_of_the_password(repo, tmp_path, url, capsys, catalog_url):
    path = tmp_path / "cams.yaml"
    path.write_text(CAMERA.format(url=url), encoding="utf-8")
    password = url.split("://", 1)[1].split(":", 1)[1].rsplit("@", 1)[0]
    with pytest.raises(ValidationError) as err:
        import_registry(path, repo)
    for piece in _fragments(password):
        assert all(piece not in problem.message for problem in err.value.problems)
    cfg = tmp_path / "archive.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n[catalog]\nurl = "{catalog_url}"\n')
    assert main(["--config", str(cfg), "cameras", "import", str(path)]) == 2
    captured = capsys.readouterr()
    said = (captured.err + captured.out).replace(str(path), "<file>")
    for piece in _fragments(password):
        assert piece not in said
    assert "Traceback" not in captured.err

