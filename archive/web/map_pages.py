"""The Map page: every camera the user may see at its registered position, coloured by the status
the camera list shows (:mod:`.status`), over an offline outline of Indonesia (the vendored
``world-atlas`` countries-50m TopoJSON, drawn in the browser by the vendored ``topojson-client``;
no tile server, nothing from outside this origin), with owner and tag filters and the cameras'
addresses as labels; "who saw this place": a circle (centre clicked on the map, radius in
metres) or a box (dragged on the map: ``bbox=south,west,north,east``) and a time range ask the
sightings search the API's ``GET /api/v1/sightings`` uses (the same validation: api/params.place).

``GET /ui/map`` (``cameras.read``), ``GET /ui/map/cameras.json`` (the same; the page re-reads
it every 15 s for the status), ``GET /ui/map/sightings.json`` (``recordings.read``: not for
auditors; bad input is a 400 JSON ``{"field", "label", "message"}``, label and message in the
user's language). All audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter
from litestar.response import Template

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.params import place
from archive.errors import Problem, ValidationError
from archive.identity.policy import Permission
from archive.search.model import CameraQuery, Near

from .i18n import CATALOG, Translate
from .render import can, page, tr, wall_us
from .status import RecorderStates, live_status

__all__ = ["routes"]

Text = Annotated[str, QueryParameter(max_length=64)]
Number = Annotated[str, QueryParameter(max_length=32)]
Box = Annotated[str, QueryParameter(max_length=128)]


def _number(text: str, where: str, t: Translate) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValidationError([Problem(where, t("err.number", text=repr(text[:32])))]) from None


def routes(deps: ApiDeps, states: RecorderStates) -> list[HTTPRouteHandler]:
    """The Map handlers; ``states``: the recorder's camera states."""
    search, times, zone = deps.search, deps.settings.times, deps.settings.zone

    @get("/map", sync_to_thread=True, opt={"permission": Permission.CAMERAS_READ.value, "audit": "web.map"},
         summary="Cameras on an offline map; who saw this place")  # fmt: skip
    def map_page(request: Request[Any, Any, Any]) -> Template:
        return page(request, "map.html", can_sight=can(principal_of(request), Permission.RECORDINGS_READ))

    @get("/map/cameras.json", sync_to_thread=True,
         opt={"permission": Permission.CAMERAS_READ.value, "audit": "web.map.cameras"},
         summary="The cameras the user may see: position, address, owner, tags, status")  # fmt: skip
    def cameras(request: Request[Any, Any, Any]) -> dict[str, Any]:
        who = principal_of(request)
        hits = search.cameras(who, CameraQuery(limit=500))
        shown = [{"id": h.id, "name": h.name, "owner": h.owner_id, "lat": h.latitude, "lon": h.longitude,
                  "location": h.location, "tags": list(h.tags), "status": st.status, "last_utc": st.last_utc,
                  "last_local": st.last_local}
                 for h, st in zip(hits, live_status(search, times, who, hits, states()), strict=True)]  # fmt: skip
        audit_detail(request, found=len(shown))
        return {"zone": times.zone_name, "cameras": shown}

    @get("/map/sightings.json", sync_to_thread=True,
         opt={"permission": Permission.RECORDINGS_READ.value, "audit": "web.map.sightings"},
         summary="Which cameras saw a circle or a box during a time range (the sightings search)")  # fmt: skip
    def sightings(request: Request[Any, Any, Any], start: Text, end: Text, lat: Number = "", lon: Number = "",
                  radius_m: Number = "", bbox: Box = "") -> Response[Any]:  # fmt: skip
        t = tr(request)
        try:
            circle = [_number(v, k, t) if v.strip() else None
                      for k, v in (("lat", lat), ("lon", lon), ("radius_m", radius_m))]  # fmt: skip
            try:
                where = place(circle[0], circle[1], circle[2], bbox.strip() or None)
            except ValidationError as exc:  # the archive's own words, after ours
                raise ValidationError([Problem(p.where, t("err.bbox") if p.where == "bbox" and bbox.strip() == ""
                                               else t("err.refused", detail=p.message))
                                       for p in exc.problems]) from None  # fmt: skip
            lo, hi = wall_us(start, "start", zone, t), wall_us(end, "end", zone, t)
            if hi <= lo:
                raise ValidationError([Problem("end", t("err.end_after_start"))])
            found = search.sightings(principal_of(request), where, lo, hi, limit=100)
        except ValidationError as exc:
            first = exc.problems[0] if exc.problems else Problem("form", str(exc))
            audit_detail(request, refused=first.where)
            key = f"field.{first.where}"
            label = t(key, zone=times.zone_name) if key in CATALOG else first.where
            return Response({"field": first.where, "label": label, "message": first.message}, status_code=400)
        out = [{"id": s.camera.id, "name": s.camera.name, "location": s.camera.location,
                "recorded_s": sum(i.end_us - i.start_us for i in s.coverage.covered) / 1e6,
                "gaps": [{"reason": g.reason, "start": times.local(g.start_us)[:19].replace("T", " "),
                          "end": times.local(g.end_us)[:19].replace("T", " ")} for g in s.coverage.gaps],
                "unaccounted_s": sum(i.end_us - i.start_us for i in s.coverage.unaccounted) / 1e6}
               for s in found]  # fmt: skip
        audit_detail(request, cameras=[s["id"] for s in out], shape="circle" if isinstance(where, Near) else "box")
        return Response({"zone": times.zone_name, "start_utc": times.utc(lo), "end_utc": times.utc(hi),
                         "cameras": out})  # fmt: skip

    return [map_page, cameras, sightings]
