"""Mounting the pages: :func:`web_pages` is the ``pages=`` factory of
:func:`archive.api.app.create_app`; :func:`worker_app` the uvicorn factory of a worker that serves them.

Everything lives under ``/ui``: the pages (behind :class:`~archive.web.gate.WebGate` and the
API's permission guard) and ``/ui/static`` (the stylesheet, our ES modules and the vendored
htmx, hls.js, topojson-client and the world-atlas outline, see ``static/vendor/MANIFEST.json``).
The policy of every ``/ui`` answer (:data:`PAGE_CSP`) allows scripts, styles, media and requests
from this origin only: no inline script or style, nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar, Router
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ASGIApp

from archive.api.app import PageFactory, Pages
from archive.api.deps import ApiDeps
from archive.api.ports import MediaStore
from archive.api.throttle import FailedAuthThrottle
from archive.bootstrap import Runtime
from archive.recorder.status_file import STATUS_PATH

from . import evidence, export_forms, export_pages, grid, holds_pages, map_pages, pages, timeline
from .gate import WebGate, page_guard
from .i18n import LanguageChoices
from .render import HOLDS_OPT, VERIFY_OPT, ZONE_OPT, page_error
from .sessions import SessionStore
from .status import RecorderStates, recorder_states
from .timeline import MediaReader

__all__ = ["PAGE_CSP", "UI_PREFIX", "WORKER_FACTORY", "pages_of", "web_pages", "worker_app"]

UI_PREFIX = "/ui"
WORKER_FACTORY = "archive.web.mount:worker_app"
HERE = Path(__file__).parent
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")  # fmt: skip


def templates() -> TemplateConfig:  # type: ignore[type-arg]
    """The pages' Jinja engine (autoescaping on, undefined names are errors)."""
    from jinja2 import StrictUndefined

    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined)  # fmt: skip
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def _reader(media: MediaStore) -> MediaReader:
    def read(bucket: str, key: str, version_id: str | None) -> bytes:
        return b"".join(media.open(bucket, key, version_id))

    return read


def web_pages(read_media: MediaReader | None = None, sessions: SessionStore | None = None,
              states: RecorderStates | None = None) -> PageFactory:  # fmt: skip
    """The factory of the ``/ui`` pages. Playback reads segments with ``read_media`` (default: the
    API's ``deps.media``; neither: no playback routes, as in the API); ``states``: the running
    recorder's camera states shown on the camera list and map (default: none known)."""
    store = sessions or SessionStore()
    recorder = states or dict

    def build(deps: ApiDeps, throttle: FailedAuthThrottle) -> Pages:
        languages = LanguageChoices(deps.identity)
        reader = read_media if read_media is not None else (_reader(deps.media) if deps.media is not None else None)

        def gate(app: ASGIApp) -> ASGIApp:
            return WebGate(app, deps, throttle, store, languages)

        ui = Router(path=UI_PREFIX, route_handlers=[*pages.routes(deps, throttle, store, languages, recorder),
                                                    *timeline.routes(deps, reader),
                                                    *grid.routes(deps, reader is not None),
                                                    *evidence.routes(deps),
                                                    *export_forms.routes(deps), *export_pages.routes(deps),
                                                    *holds_pages.routes(deps), *map_pages.routes(deps, recorder)],
                    guards=[page_guard], middleware=[gate],
                    opt={VERIFY_OPT: deps.exports is not None, HOLDS_OPT: deps.holds is not None,
                         ZONE_OPT: deps.settings.zone.key},
                    exception_handlers={Exception: page_error},
                    include_in_schema=False)  # fmt: skip
        static = create_static_files_router(path=f"{UI_PREFIX}/static", directories=[HERE / "static"],
                                            include_in_schema=False, opt={"public": True})  # fmt: skip
        return Pages(handlers=[ui, static], prefix=UI_PREFIX, csp=PAGE_CSP, template_config=templates(),
                     plugins=[HTMXPlugin()])  # fmt: skip

    return build


def pages_of(runtime: Runtime) -> PageFactory:
    """The pages of a :class:`~archive.bootstrap.Runtime` (playback reads its object store; the
    recorder states come from ``<data_dir>/run/status.json``)."""
    status = runtime.config.data_dir / STATUS_PATH
    return web_pages(runtime.store.get_bytes, states=lambda: recorder_states(status))


def worker_app() -> Litestar:
    """uvicorn factory of one API worker process serving the pages too (``archive api serve --workers N``)."""
    from archive.api.serve import worker_app as api_worker

    return api_worker(pages=pages_of)
