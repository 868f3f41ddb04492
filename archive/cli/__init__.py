"""The ``archive`` command line (an entry point: it takes its parts from :mod:`archive.bootstrap`).

One module per command group; :func:`main` is the console script.
"""

from archive.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
