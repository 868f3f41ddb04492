"""Camera registry import: validation of every error class, all-or-nothing, idempotency, secrets."""

from pathlib import Path

import pytest
from sqlalchemy import text

from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.catalog.registry import RegistryRepository
from archive.errors import ValidationError
from archive.registry.importer import import_registry
from archive.secretbox import SecretBox

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "ops" / "cameras.example.yaml"

GOOD = """\
owners:
  - id: mall
    name: Test Mall
    kind: private
    agencies: [police]
cameras:
  - id: mall-1
    name: Lobby
    owner: mall
    stream_url: rtsp://viewer:Hunter2%40x@10.0.0.5:554/ch1
    latitude: -7.47
    longitude: 112.43
    location: Lobby
    tags: [mall]
  - id: mall-2
    name: Parking
    owner: mall
    stream_url: rtsp://10.0.0.6/ch1
    password: Sup3rSecretPw
    username: viewer
    latitude: -7.471
    longitude: 112.431
    location: Parking
"""


@pytest.fixture
def repo(catalog_url, tmp_path):
    engine = make_engine(catalog_url)
    upgrade(engine)
    yield RegistryRepository(engine, SecretBox.from_key_file(tmp_path / "keys" / "k"))
    engine.dispose()


def write(tmp_path: Path, text: str, name: str = "cams.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def snapshot(repo: RegistryRepository):
    return (repo.owners(), repo.cameras())


def test_example_file_imports_and_is_idempotent(repo):
    first = import_registry(EXAMPLE, repo)
    assert first.cameras.created == len(repo.cameras()) >= 56 + 6 + 2
    assert first.owners.created == 5
    assert repo.camera_counts_by_owner()["dishub"] == 56
    again = import_registry(EXAMPLE, repo)
    assert (again.cameras.created, again.cameras.updated) == (0, 0)
    assert again.cameras.unchanged == first.cameras.created
    assert again.owners.unchanged == 5


def test_update_is_reported_and_password_changes_count(repo, tmp_path):
    import_registry(write(tmp_path, GOOD), repo)
    changed = GOOD.replace("name: Lobby", "name: Main lobby").replace("Sup3rSecretPw", "N3wPassword")
    report = import_registry(write(tmp_path, changed), repo)
    assert (report.cameras.created, report.cameras.updated, report.cameras.unchanged) == (0, 2, 0)
    assert repo.credentials("mall-2").password == "N3wPassword"
    assert repo.credentials("mall-1").password == "Hunter2@x"


def test_credentials_split_out_and_encrypted_at_rest(repo, tmp_path, catalog_url):
    import_registry(write(tmp_path, GOOD), repo)
    cam = repo.camera("mall-1")
    assert cam.stream_url == "rtsp://10.0.0.5:554/ch1"
    assert cam.username == "viewer" and cam.has_password
    assert "Hunter2" not in repr(repo.credentials("mall-1"))
    engine = make_engine(catalog_url)
    with engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM camera")))
    engine.dispose()
    assert "Hunter2" not in dump and "Sup3rSecretPw" not in dump
    assert "v1:" in dump
    if catalog_url.startswith("sqlite"):
        db_file = Path(catalog_url.removeprefix("sqlite:///"))
        for f in db_file.parent.glob(db_file.name + "*"):
            raw = f.read_bytes()
            assert b"Hunter2" not in raw and b"Sup3rSecretPw" not in raw


BAD_CASES = [
    ("stream_url: rtsp://viewer:Hunter2%40x@10.0.0.5:554/ch1", "stream_url: file:///etc/passwd",
     "scheme 'file' is not allowed", 10),
    ("stream_url: rtsp://10.0.0.6/ch1", "stream_url: rtsp:///nohost", "has no host", 18),
    ("stream_url: rtsp://10.0.0.6/ch1", "stream_url: http://10.0.0.6/video.mjpg",
     "stream_url scheme 'http' is not recorded: the recorder records RTSP only (rtsp:// or rtsps://)", 18),
    ("stream_url: rtsp://10.0.0.6/ch1", "stream_url: https://10.0.0.6/live.m3u8",
     "stream_url scheme 'https' is not recorded: the recorder records RTSP only (rtsp:// or rtsps://)", 18),
    ("latitude: -7.47\n", "latitude: -97.47\n", "latitude -97.47 is out of range", 11),
    ("longitude: 112.43\n", "longitude: 212.43\n", "longitude 212.43 is out of range", 12),
    ("latitude: -7.47\n", "latitude: south\n", "latitude must be a number", 11),
    ("    owner: mall\n    stream_url: rtsp://10.0.0.6", "    owner: nomall\n    stream_url: rtsp://10.0.0.6",
     "unknown owner 'nomall'", 17),
    ("id: mall-2", "id: mall-1", "duplicate camera id 'mall-1' (first at line 7)", 15),
    ("    location: Lobby\n", "", "missing required field 'location'", 7),
    ("    tags: [mall]\n", "    tags: [mall]\n    colour: red\n", "unknown field 'colour'", 15),
    ("id: mall-2", "id: Mall 2!", "camera id 'Mall 2!' must be", 15),
    ("kind: private", "kind: corporation", "kind must be one of", 4),
    ("    password: Sup3rSecretPw\n", "    password: Sup3rSecretPw\n    enabled: maybe\n",
     "enabled must be true or false", 20),
]


@pytest.mark.parametrize(("old", "new", "message", "line"), BAD_CASES)
def test_each_error_class_names_file_line_and_writes_nothing(repo, tmp_path, old, new, message, line):
    import_registry(write(tmp_path, GOOD.replace("name: Lobby", "name: Before")), repo)
    before = snapshot(repo)
    assert old in GOOD
    bad = write(tmp_path, GOOD.replace(old, new, 1), "bad.yaml")
    with pytest.raises(ValidationError) as exc:
        import_registry(bad, repo)
    assert f"{bad}:{line}: " in str(exc.value), str(exc.value)
    assert message in str(exc.value)
    assert snapshot(repo) == before


def test_all_problems_reported_at_once(repo, tmp_path):
    bad = GOOD.replace("latitude: -7.47\n", "latitude: 99\n").replace("rtsp://10.0.0.6", "ftp://10.0.0.6")
    with pytest.raises(ValidationError) as exc:
        import_registry(write(tmp_path, bad), repo)
    assert len(exc.value.problems) == 2
    assert repo.cameras() == [] and repo.owners() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("owners: [\n", "not valid YAML"),
        ("", "file is empty"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("owners: []\ncameras: []\nextra: 1\n", "unknown top-level key 'extra'"),
        ("cameras: {a: 1}\n", "'cameras' must be a list"),
        ("cameras:\n  - id: a\n    id: b\n", "field 'id' given twice"),
    ],
)
def test_malformed_yaml(repo, tmp_path, text, message):
    with pytest.raises(ValidationError, match=message):
        import_registry(write(tmp_path, text), repo)


CSV = """id,name,owner,stream_url,latitude,longitude,location,tags,enabled,username,password
csv-1,Simpang A,dishub,rtsp://10.1.1.1/ch1,-7.47,112.43,Simpang A,intersection;traffic,yes,view,Pw0rd
csv-2,Simpang B,dishub,rtsp://10.1.1.2/ch1,-7.48,112.44,Simpang B,,no,,
"""


def test_csv_import_needs_known_owner_and_is_idempotent(repo, tmp_path):
    p = write(tmp_path, CSV, "cams.csv")
    with pytest.raises(ValidationError, match=r"cams.csv:2: unknown owner 'dishub'"):
        import_registry(p, repo)
    import_registry(EXAMPLE, repo)
    first = import_registry(p, repo)
    assert first.cameras.created == 2
    assert import_registry(p, repo).cameras.unchanged == 2
    cam = repo.camera("csv-1")
    assert cam.tags == ("intersection", "traffic") and cam.enabled
    assert not repo.camera("csv-2").enabled
    assert repo.credentials("csv-1").password == "Pw0rd"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,name,colour\n", "cams.csv:1: unknown column(s) colour"),
        (CSV.replace("-7.48,", "-97.48,"), "cams.csv:3: latitude -97.48 is out of range"),
        (CSV.replace("csv-2,Simpang B,", "csv-2,"), "cams.csv:3: expected 11 columns, found 10"),
        (CSV.replace("csv-2,", "csv-1,"), "cams.csv:3: duplicate camera id 'csv-1'"),
        (CSV.replace(",Simpang B,,no", ",,,no"), "cams.csv:3: camera is missing required field 'location'"),
    ],
)
def test_csv_errors(repo, tmp_path, text, message):
    import_registry(EXAMPLE, repo)
    before = snapshot(repo)
    with pytest.raises(ValidationError) as exc:
        import_registry(write(tmp_path, text, "cams.csv"), repo)
    assert message in str(exc.value)
    assert snapshot(repo) == before


def test_unsupported_and_missing_files(repo, tmp_path):
    with pytest.raises(ValidationError, match="unsupported file type"):
        import_registry(write(tmp_path, "x", "cams.json"), repo)
    with pytest.raises(ValidationError, match="file not found"):
        import_registry(tmp_path / "nope.yaml", repo)


def test_import_may_not_add_sharing_to_an_existing_private_owner(repo, tmp_path):
    """Separation of duties: a private owner's sharing is its own decision (README)."""
    import_registry(write(tmp_path, GOOD), repo)  # first creation may name agencies
    before = snapshot(repo)
    for changed, message in (
        (GOOD.replace("agencies: [police]", "agencies: [police, shadow]"), "adding shadow"),
        (GOOD.replace("kind: private", "kind: government"), "does not make it government"),
    ):
        with pytest.raises(ValidationError) as err:
            import_registry(write(tmp_path, changed), repo)
        assert message in str(err.value)
        assert snapshot(repo) == before  # nothing written
    report = import_registry(write(tmp_path, GOOD.replace("agencies: [police]", "agencies: []")), repo)
    assert report.owners.updated == 1 and repo.owners()[0].agencies == ()  # removing is allowed


def test_import_never_moves_a_camera_to_another_owner(repo, tmp_path):
    import_registry(write(tmp_path, GOOD), repo)
    other = GOOD.replace("owners:\n", "owners:\n  - id: shadow-mall\n    name: Shadow\n    kind: private\n"
                         "    agencies: [shadow]\n").replace("    owner: mall\n    stream_url: rtsp://viewer",
                                                             "    owner: shadow-mall\n    stream_url: rtsp://viewer")
    assert "owner: shadow-mall" in other
    with pytest.raises(ValidationError) as err:
        import_registry(write(tmp_path, other), repo)
    assert "never moves to another owner" in str(err.value)
    assert repo.camera("mall-1").owner_id == "mall" and [o.id for o in repo.owners()] == ["mall"]
