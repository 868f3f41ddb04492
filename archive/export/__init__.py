"""archive.export: chain-of-custody evidence exports (DESIGN.md section 4, issue 7).

- :mod:`.service`: :class:`ExportService`: request (with an immediate legal hold), approve or
  refuse by the owners' rules, build, download, custody log; implements the API's
  :class:`archive.api.ports.ExportsPort`.
- :mod:`.building` / :mod:`.jobs`: building a package in the foreground or as a background job
  with progress; :mod:`.builder` writes the zip (:mod:`.gather`, :mod:`.zipout`,
  :mod:`.manifest`, :mod:`.report`, :mod:`.working_copy`, :mod:`.static`).
- :mod:`.verifier`: the standalone verifier shipped in every package (also used by
  ``archive verify package`` and the API).
- :mod:`.cli`: ``archive export ...`` and ``archive verify package``; :mod:`.api`: Litestar
  handlers; :mod:`.factory`: wiring from a :class:`archive.bootstrap.Runtime`.

Package format: ``README.txt`` inside every package and :mod:`.verifier` (``archive-export/1``).
"""
