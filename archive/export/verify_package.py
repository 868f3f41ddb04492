#!/usr/bin/env python3
"""Verify this evidence package (archive-export/1) with only Python >= 3.11 and ``cryptography``.

Usage, from the unpacked package folder or with the zip::

    python verify_package.py                   # the folder this script is in
    python verify_package.py CASE.zip --trust export=sha256:<the export key's fingerprint> \
        --trust camera=sha256:<the camera key's fingerprint>      # both from the archive's operator

Every check is listed with its result; the exit status is 0 only if all of them hold and the
manifest is signed by the export key given (3: intact, but no trusted export key). The
code is in ``verifier/`` and ``integrity/`` beside this script (the log format is specified in
``integrity/SPEC.md``); it reads nothing from the network.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.dont_write_bytecode = True  # leave the package folder exactly as it was
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    if sys.version_info < (3, 11):  # noqa: UP036  (the reader may run an old Python)
        sys.exit("verify_package.py needs Python 3.11 or newer")
    try:
        importlib.import_module("cryptography")
    except ImportError:
        sys.exit("verify_package.py needs the 'cryptography' package: pip install cryptography")
    sys.exit(importlib.import_module("verifier.main").main(default=here))
