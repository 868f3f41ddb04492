"""archive.export: chain-of-custody evidence exports (DESIGN.md section 4, issue 7).

- :mod:`.service`: :class:`ExportService`: request (with an immediate legal hold), approve or
  refuse by the owners' rules, build, download, custody log (:mod:`.views`: what other layers see).
- :mod:`.building` / :mod:`.jobs`: building a package in the foreground or as a background job
  with progress; :mod:`.builder` writes the zip (:mod:`.gather`, :mod:`.zipout`,
  :mod:`.manifest`, :mod:`.report`, :mod:`.working_copy`, :mod:`.static`).
- :mod:`.verifier`: the standalone verifier shipped in every package (also used by
  ``archive verify package`` and the API).
- :mod:`.parts`: the export parts of a process, assembled by :mod:`archive.bootstrap`; the entry
  points are ``archive.cli.export`` and ``archive.api.routes.exports``.

Package format: ``README.txt`` inside every package and :mod:`.verifier` (``archive-export/1``).
"""
