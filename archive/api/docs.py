"""The API's own documentation page at ``/schema``: plain HTML from the OpenAPI schema, no script
and no resource from another origin (a command center may have no internet; nothing third-party
runs on the API's origin). The machine-readable schema stays at ``/schema/openapi.json`` (and
``openapi.yaml``)."""

from __future__ import annotations

import html
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, YamlRenderPlugin

__all__ = ["OfflineDocsPlugin", "docs_plugins"]

_METHODS = ("get", "head", "post", "put", "patch", "delete")


class OfflineDocsPlugin(OpenAPIRenderPlugin):
    """One HTML page: every operation with its method, path, summary and parameters."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/docs"], favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page (escaped text only)."""
        info = openapi_schema.get("info", {})
        rows = []
        for path, item in sorted(openapi_schema.get("paths", {}).items()):
            for method in _METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                params = ", ".join(f"{p.get('name')} ({p.get('in')}{', required' if p.get('required') else ''})"
                                   for p in op.get("parameters", []) if isinstance(p, dict))  # fmt: skip
                rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                            f"<td>{html.escape(str(op.get('summary', '')))}</td><td>{html.escape(params)}</td></tr>")
        title = html.escape(str(info.get("title", "API")))
        body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body>"
                f"<h1>{title}</h1><p>{html.escape(str(info.get('description', '')))}</p>"
                "<p>Machine-readable: <a href=\"/schema/openapi.json\">openapi.json</a>, "
                "<a href=\"/schema/openapi.yaml\">openapi.yaml</a>. Authenticate with "
                "<code>Authorization: Bearer &lt;token&gt;</code>.</p>"
                "<table border=\"1\" cellpadding=\"4\"><tr><th>method</th><th>path</th><th>what</th><th>parameters</th>"
                f"</tr>{''.join(rows)}</table></body></html>")
        return body.encode("utf-8")


def docs_plugins() -> list[OpenAPIRenderPlugin]:
    """The render plugins of the app: this page, JSON and YAML."""
    return [OfflineDocsPlugin(), JsonRenderPlugin(), YamlRenderPlugin()]
