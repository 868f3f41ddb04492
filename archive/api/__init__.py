"""archive.api: the evidence API (Litestar), OpenAPI at ``/schema``, routes under ``/api/v1``.

:func:`archive.api.app.create_app` builds the app from an :class:`archive.api.deps.ApiDeps`
(everything it needs, passed explicitly); :func:`archive.api.wiring.build_deps` makes those
from a :class:`archive.bootstrap.Runtime`. Controllers are thin: they parse, call a service,
shape the answer. One error mapper (:mod:`archive.api.errors`) turns the exception tree into
HTTP; one middleware (:mod:`archive.api.gate`) authenticates and writes the audit trail.
"""
