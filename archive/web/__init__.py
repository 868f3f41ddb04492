"""Browser pages of the archive (issue 17, first slice): login, cameras, timeline and playback.

An entry layer beside :mod:`archive.api` and :mod:`archive.cli`: server-rendered Jinja pages
mounted under ``/ui`` by ``create_app(deps, pages=web_pages(store))``. They call the same
services as the API with the same permission guard, audit trail (the API's gate, reading a
session cookie instead of a bearer header) and error mapping. See :mod:`archive.web.mount`.
"""

from archive.web.mount import UI_PREFIX, web_pages

__all__ = ["UI_PREFIX", "web_pages"]
