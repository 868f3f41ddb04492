"""``python -m archive``: the same as the ``archive`` console script."""

from archive.cli import main

raise SystemExit(main())
