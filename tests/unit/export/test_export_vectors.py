"""The archive-export/1 test vectors (EXPORT-SPEC.md 10): the committed vectors are what the
generator makes, and both verifiers (the archive's own, and the one bundled in every package,
run alone with only the standard library and ``cryptography``) give every vector its expected
verdict and first failing step."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from archive.export import static
from archive.export.verifier.checks import verify_package
from archive.export.verifier.formats import FormatError
from tests.vectors import export_vectors as gen

VECTORS = gen.OUT
INDEX: dict[str, Any] = json.loads((VECTORS / "index.json").read_text(encoding="utf-8"))
CASES = INDEX["vectors"]


def test_there_are_enough_vectors_of_every_kind() -> None:
    assert len(CASES) >= 20
    assert {c["verdict"] for c in CASES} == {"VALID", "UNVERIFIED", "INVALID"}
    assert {c["step"] for c in CASES if c["verdict"] == "INVALID"} == {1, 2, 3, 4, 5, 6, 7}
    assert {c["attacker"] for c in CASES} == {gen.CONTENT, gen.FORGER, gen.INSIDER, gen.NONE}


def test_committed_vectors_are_what_the_generator_makes(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the duplicate-member vector makes zipfile warn
        index = gen.build(tmp_path)
    assert index == INDEX, "regenerate: python -m tests.vectors.export_vectors"
    for case in CASES:
        assert (tmp_path / case["file"]).read_bytes() == (VECTORS / case["file"]).read_bytes(), case["file"]


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_archive_verifier_gives_the_expected_verdict_and_step(case: dict[str, Any]) -> None:
    o = verify_package(VECTORS / case["file"], trust=case["trust"], witness=case["witness"])
    assert (o.status, o.failed_step) == (case["verdict"], case["step"]), o.failures
    assert o.to_dict()["failed_step"] == case["step"]
    if case["step"] is not None:
        assert f"at step {case['step']} (" in o.verdict()


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The verifier as every package carries it: verify_package.py, verifier/, integrity/."""
    d = tmp_path_factory.mktemp("bundled")
    shutil.copy(static.LAUNCHER, d / "verify_package.py")
    for folder, name in ((static.VERIFIER_DIR, "verifier"), (static.INTEGRITY_DIR, "integrity")):
        (d / name).mkdir()
        for p in static._sources(folder):
            shutil.copy(p, d / name / p.name)
    return d


DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
assert "archive" not in sys.modules
from verifier.checks import verify_package
from pathlib import Path
out = []
for case in json.loads(Path(sys.argv[2]).read_text())["vectors"]:
    o = verify_package(Path(sys.argv[2]).parent / case["file"], trust=case["trust"], witness=case["witness"])
    out.append([case["file"], o.status, o.failed_step])
assert not [m for m in sys.modules if m == "archive" or m.startswith("archive.")]
print(json.dumps(out))
"""


def test_bundled_verifier_alone_gives_every_verdict_and_step(bundled: Path, tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-I", "-c", DRIVER, str(bundled), str(VECTORS / "index.json")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    got = {f: (s, step) for f, s, step in json.loads(run.stdout)}
    assert got == {c["file"]: (c["verdict"], c["step"]) for c in CASES}


@pytest.mark.parametrize("name, code", [("honest.zip", 0), ("honest-no-trust.zip", 3), ("entry-removed.zip", 1),
                                        ("duplicate-member.zip", 1), ("witness-only.zip", 3),
                                        ("camera-key-signs-manifest.zip", 1)])  # fmt: skip
def test_bundled_launcher_prints_the_failing_step(bundled: Path, name: str, code: int) -> None:
    case = next(c for c in CASES if c["file"] == name)
    args = [a for t in case["trust"] for a in ("--trust", t)] + [a for w in case["witness"] for a in ("--witness", w)]
    run = subprocess.run([sys.executable, "-I", str(bundled / "verify_package.py"), str(VECTORS / name), "--quiet",
                          *args], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == code, run.stdout + run.stderr
    last = run.stdout.strip().splitlines()[-1]
    if case["step"] is None:
        assert last == "VERDICT: VALID: every check held"
    else:
        assert last.startswith(f"VERDICT: {case['verdict']} at step {case['step']} (")


def test_a_fingerprint_without_its_purpose_is_bad_usage(bundled: Path) -> None:
    """A bare fingerprint does not say which key it is; trusted for every purpose it would let the
    holder of one key sign for the other (EXPORT-SPEC.md 5.4): exit 2 with the way to say it."""
    fa = INDEX["keys"]["archive"]
    run = subprocess.run([sys.executable, "-I", str(bundled / "verify_package.py"), str(VECTORS / "honest.zip"),
                          "--quiet", "--trust", fa], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"--trust export={fa}" in run.stderr and f"--trust camera={fa}" in run.stderr
    for bad in ("sha256:" + "0" * 64, "nonsense", "audit=" + fa):
        with pytest.raises(FormatError):
            verify_package(VECTORS / "honest.zip", trust=[bad])


def test_vector_manifests_follow_the_schema() -> None:
    """The honest vectors' manifests validate against the manifest schema (EXPORT-SPEC.md 4);
    the long-string vector does not (the schema and step 3 agree on 4096 code points)."""
    jsonschema = pytest.importorskip("jsonschema")
    import zipfile

    schema = json.loads((VECTORS.parents[1] / "export-manifest.schema.json").read_text(encoding="utf-8"))
    check = jsonschema.Draft202012Validator(schema)

    def manifest(name: str) -> Any:
        with zipfile.ZipFile(VECTORS / name) as z:
            return json.loads(z.read(f"{gen.PACKAGE}/manifest.json"))

    for name in ("honest.zip", "rotated-trust-new.zip", "relabelled-camera.zip"):
        check.validate(manifest(name))
    assert not check.is_valid(manifest("long-string.zip"))
