// The day timeline of one camera: lanes of recorded (and pruned) / gap / unaccounted / held
// intervals, merged by the server (one bar per interval, never one per segment), over a zoomable axis
// in the display zone (its abbreviation from the server's zoneinfo: WIB, WITA...), UTC on hover; a
// click on the lanes plays from that instant. The axis shows a window of the day (data-view-start,
// data-view-end, epoch ms): the whole day down to MIN_SPAN_MS; the wheel zooms around the pointer, the
// buttons around the playhead (else the window's centre), the arrows move it by half its width.
// Bars, ticks, the playhead and a click's instant all follow the window; gaps keep their reasons.
import { Player } from "./player.js";
import { zoneLabel } from "./zone.js";
import { reason, t } from "./i18n.js";

const root = document.getElementById("timeline");
const zone = root.dataset.zone;
const abbr = zoneLabel(zone, JSON.parse(root.dataset.zoneAbbrs || "{}"));
const local = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

function wib(ms) { return local.format(new Date(ms)) + " " + abbr(ms); }
const wall = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
// "YYYY-MM-DDTHH:MM:SS" on the display zone's wall clock (what the export form reads in that zone)
function wallText(ms) {
  const p = Object.fromEntries(wall.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour === "24" ? "00" : p.hour}:${p.minute}:${p.second}`;
}

function exportLink(ms) {
  const link = document.getElementById("request-export");
  if (!link) return;
  const q = new URLSearchParams({ cameras: root.dataset.camera, start: wallText(ms), end: wallText(ms + 5 * 60e3) });
  link.href = `/ui/exports/new?${q}`;
}

function utc(ms) { return new Date(ms).toISOString().replace(".000Z", "Z"); }

const MIN_SPAN_MS = 10 * 60e3;
const STEPS_MS = [60e3, 2 * 60e3, 5 * 60e3, 10 * 60e3, 15 * 60e3, 30 * 60e3, 3600e3, 2 * 3600e3, 3 * 3600e3];
const hhmm = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false });
let view = null; // {start, end}: the window of the day the axis shows (epoch ms)

// place el over [start, end) in the window; hidden when wholly outside it
function place(el, start, end) {
  const span = view.end - view.start;
  const a = Math.max(start, view.start), b = Math.min(end, view.end);
  const inside = el.classList.contains("playhead") ? view.start <= start && start <= view.end : a < b;
  el.hidden = !inside;
  if (!inside) return;
  el.style.left = ((a - view.start) / span * 100) + "%";
  el.style.width = Math.max((b - a) / span * 100, 0.15) + "%";
}

function bar(lane, kind, start, end, title) {
  const el = document.createElement("div");
  el.className = "bar bar-" + kind;
  el.dataset.start = String(start);
  el.dataset.end = String(end);
  el.title = title;
  place(el, start, end);
  document.getElementById("lane-" + lane).appendChild(el);
  return el;
}

// ticks at whole steps from the day's start (about 8 across the window); the day's end reads 24:00
function axis(day) {
  const box = document.getElementById("axis");
  box.replaceChildren();
  const span = view.end - view.start;
  const step = STEPS_MS.find((s) => span / s <= 9) || STEPS_MS[STEPS_MS.length - 1];
  for (let ms = day.start + Math.ceil((view.start - day.start) / step) * step; ms <= view.end; ms += step) {
    const tick = document.createElement("span");
    tick.className = "tick";
    tick.textContent = ms === day.end ? "24:00" : hhmm.format(new Date(ms));
    tick.style.left = ((ms - view.start) / span * 100) + "%";
    tick.title = utc(ms);
    tick.dataset.at = String(ms);
    box.appendChild(tick);
  }
  root.dataset.viewStart = String(view.start);
  root.dataset.viewEnd = String(view.end);
  const to = view.end === day.end ? `24:00:00 ${abbr(view.end - 1)}` : wib(view.end);  // the day's end, not 00:00
  document.getElementById("t-window").textContent = t("js.timeline.window", { from: wib(view.start), to });
}

// show [start, end) (clamped to the day, at least MIN_SPAN_MS): ticks and every bar follow
function show(day, start, end) {
  const span = Math.min(Math.max(end - start, MIN_SPAN_MS), day.end - day.start);
  const a = Math.min(Math.max(start, day.start), day.end - span);
  view = { start: Math.round(a), end: Math.round(a + span) };
  axis(day);
  for (const el of root.querySelectorAll(".bar")) place(el, Number(el.dataset.start), Number(el.dataset.end));
  const head = document.getElementById("playhead");
  if (head.dataset.at) place(head, Number(head.dataset.at), Number(head.dataset.at) + 1);
}

// zoom by factor (< 1: in) keeping instant `at` where it is on the axis
function zoomAt(day, factor, at) {
  const f = (at - view.start) / (view.end - view.start);
  const span = (view.end - view.start) * factor;
  show(day, at - f * span, at - f * span + span);
}

function controls(day) {
  const head = document.getElementById("playhead");
  const centre = () => (head.dataset.at && !head.hidden ? Number(head.dataset.at) : (view.start + view.end) / 2);
  const on = (id, fn) => document.getElementById(id).addEventListener("click", fn);
  on("t-zoom-in", () => zoomAt(day, 0.25, centre()));
  on("t-zoom-out", () => zoomAt(day, 4, centre()));
  on("t-zoom-day", () => show(day, day.start, day.end));
  on("t-earlier", () => show(day, view.start - (view.end - view.start) / 2, view.end - (view.end - view.start) / 2));
  on("t-later", () => show(day, view.start + (view.end - view.start) / 2, view.end + (view.end - view.start) / 2));
  root.addEventListener("wheel", (e) => {
    e.preventDefault();
    zoomAt(day, e.deltaY < 0 ? 0.5 : 2, instantAt(e));
  }, { passive: false });
}

function draw(day) {
  view = { start: day.start, end: day.end };
  axis(day);
  for (const [a, b] of day.recorded) bar("recorded", "recorded", a, b, t("js.bar.recorded", { from: wib(a), to: wib(b), from_utc: utc(a), to_utc: utc(b) }));
  for (const [a, b] of day.pruned) bar("recorded", "pruned", a, b, t("js.bar.pruned", { from: wib(a), to: wib(b) }));
  for (const g of day.gaps) {
    const el = bar("gap", "gap", g.start, g.end, t("js.bar.gap", { reason: reason(g.reason) + (g.detail ? " – " + g.detail : ""), from: wib(g.start), to: wib(g.end), from_utc: g.start_utc, to_utc: g.end_utc }));
    el.dataset.reason = g.reason;
  }
  for (const [a, b] of day.unaccounted) bar("unaccounted", "unaccounted", a, b, t("js.bar.unaccounted", { from: wib(a), to: wib(b), from_utc: utc(a), to_utc: utc(b) }));
  for (const [a, b] of day.held) bar("held", "held", a, b, t("js.bar.held", { from: wib(a), to: wib(b) }));
  root.dataset.ready = "yes";
}

function instantAt(event) {
  const box = root.getBoundingClientRect();
  const x = Math.min(Math.max(event.clientX - box.left, 0), box.width);
  return Math.round(view.start + x / box.width * (view.end - view.start));
}

async function main() {
  const url = `/ui/cameras/${encodeURIComponent(root.dataset.camera)}/day.json?day=${root.dataset.day}`;
  const answer = await fetch(url, { credentials: "same-origin" });
  if (!answer.ok) { document.getElementById("hover-time").textContent = t("js.timeline.unavailable", { status: answer.status }); return; }
  const day = await answer.json();
  draw(day);
  controls(day);
  const hover = document.getElementById("hover-time");
  root.addEventListener("mousemove", (e) => { const at = instantAt(e); hover.textContent = `${wib(at)} (UTC ${utc(at)})`; });
  root.addEventListener("click", (e) => exportLink(instantAt(e)));
  if (root.dataset.play !== "yes") return;
  const player = new Player(document.getElementById("video"), document.getElementById("now-playing"), root.dataset.camera, zone, abbr);
  const head = document.getElementById("playhead");
  player.onTime = (ms) => { head.hidden = false; head.dataset.at = String(ms); place(head, ms, ms + 1); };
  root.addEventListener("click", (e) => player.playAt(instantAt(e)));
}

main();
