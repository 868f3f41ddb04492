"""The one composition root: :class:`Runtime` builds each long-lived part of the service once per
process, from the configuration alone. Entry points (``archive/cli/``, ``archive/api/``) take what
they need from it; no other module constructs these parts (an import-linter contract keeps the
domain packages from importing this package). No work at import time.

:mod:`archive.bootstrap.assemble` holds the assembly functions over explicit parts that the
runtime uses (tests use them too, with parts of their own).
"""

from archive.bootstrap.runtime import Runtime
from archive.bootstrap.store import StoreEndpoint

__all__ = ["Runtime", "StoreEndpoint"]
