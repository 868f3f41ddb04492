// The camera map: an offline outline (vendored world-atlas countries-50m, decoded by the vendored
// topojson-client), cameras at their registered positions coloured by status, owner/tag filters,
// address labels; "who saw this place" (the sightings search): a click sets the centre of a circle,
// or, with Box chosen, a drag draws a box (its south,west,north,east fill the bbox field).
import "./vendor/topojson-client.min.js"; // UMD: defines self.topojson
import { reason, t } from "./i18n.js";

const svg = document.getElementById("map");
const NS = "http://www.w3.org/2000/svg";
const W = 1000, H = 700;
let view = null; // {lon0, lat0, scale}: an equirectangular projection fitted to the cameras
let cameras = [];

function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function fit(cams) {
  const lats = cams.map((c) => c.lat), lons = cams.map((c) => c.lon);
  const [la, lb] = cams.length ? [Math.min(...lats), Math.max(...lats)] : [-11, 6];
  const [oa, ob] = cams.length ? [Math.min(...lons), Math.max(...lons)] : [95, 141];
  const lat0 = (la + lb) / 2, lon0 = (oa + ob) / 2, k = Math.cos(lat0 * Math.PI / 180);
  const span = Math.max((ob - oa) * k / W, (lb - la) / H, 0.15 / H) * 1.3; // at least ~0.15° (17 km) tall
  return { lon0, lat0, k, scale: 1 / span };
}

function xy(lon, lat) {
  return [W / 2 + (lon - view.lon0) * view.k * view.scale, H / 2 - (lat - view.lat0) * view.scale];
}

function lonlat(x, y) {
  return [view.lon0 + (x - W / 2) / (view.k * view.scale), view.lat0 - (y - H / 2) / view.scale];
}

function ring(coords) {
  return coords.map(([lon, lat], i) => { const [x, y] = xy(lon, lat); return `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`; }).join("") + "Z";
}

function outline(atlas) {
  const land = el("g", { id: "outline" }, svg);
  const all = self.topojson.feature(atlas, atlas.objects.countries).features;
  for (const f of all) {
    const polys = f.geometry == null ? [] : f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    const d = polys.map((p) => p.map(ring).join("")).join("");
    if (d) el("path", { d, class: f.id === "360" ? "land land-id" : "land", "data-country": f.properties.name }, land);
  }
}

function draw() {
  const owner = document.getElementById("f-owner").value, tag = document.getElementById("f-tag").value;
  let layer = document.getElementById("cams");
  if (layer) layer.remove();
  layer = el("g", { id: "cams" }, svg);
  for (const c of cameras) {
    if ((owner && c.owner !== owner) || (tag && !c.tags.includes(tag))) continue;
    const [x, y] = xy(c.lon, c.lat);
    const g = el("g", { class: "cam status-" + c.status.replaceAll(" ", "-"), "data-camera": c.id, "data-status": c.status }, layer);
    el("circle", { cx: x, cy: y, r: 7 }, g);
    const label = el("text", { x: x + 9, y: y + 4, class: "cam-label", translate: "no" }, g);  // an address: data
    label.textContent = c.location || c.name;
    const title = el("title", {}, g);
    const status = t("status." + c.status.replaceAll(" ", "_"));
    title.textContent = c.last_local ? t("js.map.camera_last", { name: c.name, id: c.id, owner: c.owner, status, last: c.last_local, last_utc: c.last_utc })
      : t("js.map.camera", { name: c.name, id: c.id, owner: c.owner, status });
  }
}

function options(id, values) {
  const sel = document.getElementById(id);
  for (const v of [...new Set(values)].sort()) {
    const o = document.createElement("option"); o.value = v; o.textContent = v; o.translate = false; sel.appendChild(o);  // data: owner ids, tags
  }
  sel.addEventListener("change", draw);
}

async function refresh() {
  const answer = await fetch("/ui/map/cameras.json", { credentials: "same-origin" });
  if (!answer.ok) return;
  cameras = (await answer.json()).cameras;
  draw();
}

function circle(lon, lat, radius) {
  sight = [lon, lat, radius];
  let c = document.getElementById("sight-circle");
  if (c) c.remove();
  const [x, y] = xy(lon, lat);
  el("circle", { id: "sight-circle", cx: x, cy: y, r: Math.max(radius / 111_320 * view.scale, 3) }, svg);
}

// the box [south, west, north, east] as the bbox field reads it, or null
function parseBox(text) {
  const v = text.split(",").map((x) => Number(x.trim()));
  return v.length === 4 && v.every(Number.isFinite) ? v : null;
}

function rectangle(b) {
  sightBox = b;
  let r = document.getElementById("sight-box");
  if (r) r.remove();
  if (!b) return;
  const [xa, ya] = xy(b[1], b[2]), [xb, yb] = xy(b[3], b[0]);  // north-west and south-east corners
  el("rect", { id: "sight-box", x: Math.min(xa, xb), y: Math.min(ya, yb), width: Math.max(Math.abs(xb - xa), 2), height: Math.max(Math.abs(yb - ya), 2) }, svg);
}

function sightForm() {
  const form = document.getElementById("sight-form");
  if (!form) return;
  const field = (id) => document.getElementById(id);
  const boxMode = () => field("s-box").checked;
  const point = (e) => {
    const pt = svg.createSVGPoint(); pt.x = e.clientX; pt.y = e.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    return lonlat(p.x, p.y);
  };
  const shape = () => {  // which fields the chosen shape uses; the other shape's drawing goes
    for (const l of form.querySelectorAll(".circle-only")) l.hidden = boxMode();
    for (const l of form.querySelectorAll(".box-only")) l.hidden = !boxMode();
    svg.classList.toggle("boxing", boxMode());  // a drag draws the box (no page scroll on a phone)
    if (boxMode()) { sight = null; const c = document.getElementById("sight-circle"); if (c) c.remove(); }
    else rectangle(null);
  };
  field("s-circle").addEventListener("change", shape);
  field("s-box").addEventListener("change", shape);
  let drag = null;  // [lon, lat] where the drag started
  svg.addEventListener("pointerdown", (e) => {
    if (!boxMode()) return;
    drag = point(e);
    svg.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  const boxTo = (e) => {
    const [lon, lat] = point(e);
    return [Math.min(lat, drag[1]), Math.min(lon, drag[0]), Math.max(lat, drag[1]), Math.max(lon, drag[0])];
  };
  svg.addEventListener("pointermove", (e) => { if (drag) rectangle(boxTo(e)); });
  svg.addEventListener("pointerup", (e) => {
    if (!drag) return;
    const b = boxTo(e);
    drag = null;
    rectangle(b);
    field("s-bbox").value = b.map((v) => v.toFixed(6)).join(",");
  });
  field("s-bbox").addEventListener("change", () => rectangle(parseBox(field("s-bbox").value)));
  svg.addEventListener("click", (e) => {
    if (boxMode()) return;
    const [lon, lat] = point(e);
    field("s-lat").value = lat.toFixed(6); field("s-lon").value = lon.toFixed(6);
    circle(lon, lat, Number(field("s-radius").value) || 0);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const where = boxMode() ? { bbox: field("s-bbox").value }
      : { lat: field("s-lat").value, lon: field("s-lon").value, radius_m: field("s-radius").value };
    const q = new URLSearchParams({ ...where, start: field("s-start").value, end: field("s-end").value });
    const answer = await fetch(`/ui/map/sightings.json?${q}`, { credentials: "same-origin" });
    const body = await answer.json();
    const error = field("sight-error"), list = field("sightings");
    list.replaceChildren();
    if (!answer.ok) { error.hidden = false; error.dataset.field = body.field; error.textContent = `${body.label}: ${body.message}`; return; }
    error.hidden = true;
    if (boxMode()) rectangle(parseBox(field("s-bbox").value));
    else circle(Number(field("s-lon").value), Number(field("s-lat").value), Number(field("s-radius").value));
    list.dataset.shape = boxMode() ? "box" : "circle";
    if (!body.cameras.length) { const li = document.createElement("li"); li.className = "empty"; li.textContent = t("js.map.none"); list.appendChild(li); }
    for (const c of body.cameras) {
      const li = document.createElement("li");
      li.dataset.camera = c.id;
      const a = document.createElement("a");
      a.href = `/ui/cameras/${encodeURIComponent(c.id)}?day=${field("s-start").value.slice(0, 10)}`;
      a.textContent = `${c.name} (${c.id})`;
      li.appendChild(a);
      const gaps = c.gaps.map((g) => `${reason(g.reason)} ${g.start} – ${g.end}`).join("; ");
      li.appendChild(document.createTextNode(t(gaps ? "js.map.sighting_gaps" : "js.map.sighting", { location: c.location, recorded: c.recorded_s, unaccounted: c.unaccounted_s, gaps })));
      list.appendChild(li);
    }
  });
}

let atlas = null;
let sight = null; // [lon, lat, radius] of the drawn circle
let sightBox = null; // [south, west, north, east] of the drawn box

function render() {
  svg.replaceChildren();
  el("rect", { x: 0, y: 0, width: W, height: H, class: "sea" }, svg);
  outline(atlas);
  draw();
  if (sight) circle(...sight);
  if (sightBox) rectangle(sightBox);
}

function zoom(factor) {
  view.scale = factor ? view.scale * factor : fit(cameras).scale;
  render();
}

async function main() {
  const [world, cams] = await Promise.all([
    fetch("/ui/static/vendor/countries-50m.json").then((r) => r.json()),
    fetch("/ui/map/cameras.json", { credentials: "same-origin" }).then((r) => r.json()),
  ]);
  atlas = world;
  cameras = cams.cameras;
  view = fit(cameras);
  options("f-owner", cameras.map((c) => c.owner));
  options("f-tag", cameras.flatMap((c) => c.tags));
  render();
  document.getElementById("zoom-in").addEventListener("click", () => zoom(2));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(0.5));
  document.getElementById("zoom-fit").addEventListener("click", () => zoom(0));
  sightForm();
  svg.dataset.ready = "yes";
  setInterval(refresh, 15000);
}

main();
