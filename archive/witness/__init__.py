"""A C2SP tlog-witness (c2sp.org/tlog-witness) that another agency runs: ``archive witness serve``.

- :mod:`.protocol`: the ``add-checkpoint`` request and response bodies (both sides use them).
- :mod:`.settings`: the witness's own configuration file (its key, state file, the logs it accepts).
- :mod:`.state`: the latest cosigned size and root per log, persisted atomically, never rolled back.
- :mod:`.service`: checks a request and cosigns (HTTP status and body, no HTTP server).
- :mod:`.server`: the HTTP server (standard library) around the service.
- :mod:`.client`: the archive's side: submit a checkpoint with its consistency proof.

Needs only the standard library, ``cryptography`` and :mod:`archive.integrity`.
"""
