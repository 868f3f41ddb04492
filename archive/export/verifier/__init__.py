"""The evidence-package verifier (``archive-export/1``), shipped inside every package.

This folder is copied verbatim into every export package, beside a copy of
``archive/integrity`` and the launcher ``verify_package.py``; there it runs with only Python
(>= 3.11) and ``cryptography``. Inside the archive the same code backs ``archive verify
package`` and the API's verify endpoint, so every route checks exactly the same things.

- :mod:`.formats`: the package's own formats (manifest signature note, key fingerprints,
  the keys file, strict canonical JSON).
- :mod:`.custody`: the hash-chained custody log (``archive-custody/1``).
- :mod:`.source`: reading a package from a zip file or an unpacked folder, hashing with progress.
- :mod:`.checks`: the checks, one result per check; :mod:`.outcome`: results and their rendering.
- :mod:`.steps`: the numbered verifier steps (EXPORT-SPEC.md 9); :mod:`.members`: member and
  line rules; :mod:`.rules`: the package rules beyond the log format; :mod:`.wording`: sentences
  and WIB/UTC times for people.
- :mod:`.main`: the command line (``python verify_package.py [PACKAGE] [--trust KEY]``).

Only the standard library and ``integrity`` (the archive's evidence-log package) are imported.
"""

FORMAT = "archive-export/1"
"""Version of the package layout and manifest, specified in ``integrity/EXPORT-SPEC.md`` of every package."""
