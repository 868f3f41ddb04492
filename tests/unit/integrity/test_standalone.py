"""archive.integrity is shipped alone inside exports: stdlib + cryptography, relocatable."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import archive.integrity

PKG = Path(archive.integrity.__file__).resolve().parent


def test_imports_only_stdlib_and_cryptography() -> None:
    for path in sorted(PKG.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "cryptography", f"{path.name} imports {name}"


def test_copy_under_another_name_works_without_archive(tmp_path: Path) -> None:
    shutil.copytree(PKG, tmp_path / "evidence_verifier", ignore=shutil.ignore_patterns("__pycache__"))
    script = (
        "import sys, evidence_verifier as v\n"
        "assert not [m for m in sys.modules if m == 'archive' or m.startswith('archive.')], 'imported archive'\n"
        "w = v.LogWriter('x.example/log')\n"
        "from datetime import datetime, UTC\n"
        "w.append(v.Clock(at=datetime(2025, 1, 1, tzinfo=UTC), synced=True, source='chrony'))\n"
        "s = v.Signer.generate('x.example/log')\n"
        "assert v.open_checkpoint(v.sign_checkpoint(w.checkpoint(), s).encode(), [s.verifier_key]).size == 1\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert (tmp_path / "evidence_verifier" / "SPEC.md").is_file()
