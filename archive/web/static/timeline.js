// The day timeline of one camera: lanes of recorded (and pruned) / gap / unaccounted / held
// intervals, merged by the server (one bar per interval, never one per segment), over a 24 h axis in
// the display zone (its abbreviation from the server's zoneinfo: WIB, WITA...), UTC on hover; a
// click on the lanes plays from that instant.
import { Player } from "./player.js";
import { zoneLabel } from "./zone.js";

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

function place(el, start, end, day) {
  const span = day.end - day.start;
  const a = Math.max(start, day.start), b = Math.min(end, day.end);
  el.style.left = ((a - day.start) / span * 100) + "%";
  el.style.width = Math.max((b - a) / span * 100, 0.15) + "%";
}

function bar(lane, kind, start, end, day, title) {
  const el = document.createElement("div");
  el.className = "bar bar-" + kind;
  el.dataset.start = String(start);
  el.dataset.end = String(end);
  el.title = title;
  place(el, start, end, day);
  document.getElementById("lane-" + lane).appendChild(el);
  return el;
}

function axis(day) {
  const box = document.getElementById("axis");
  for (let h = 0; h <= 24; h += 3) {
    const tick = document.createElement("span");
    tick.className = "tick";
    tick.textContent = String(h).padStart(2, "0") + ":00";
    tick.style.left = (h / 24 * 100) + "%";
    tick.title = utc(day.start + h * 3600e3);
    box.appendChild(tick);
  }
}

function draw(day) {
  axis(day);
  for (const [a, b] of day.recorded) bar("recorded", "recorded", a, b, day, `recorded ${wib(a)} – ${wib(b)}\n(UTC ${utc(a)} – ${utc(b)})`);
  for (const [a, b] of day.pruned) bar("recorded", "pruned", a, b, day, `pruned by retention ${wib(a)} – ${wib(b)}`);
  for (const g of day.gaps) {
    const el = bar("gap", "gap", g.start, g.end, day, `gap: ${g.reason}${g.detail ? " – " + g.detail : ""}\n${wib(g.start)} – ${wib(g.end)}\n(UTC ${g.start_utc} – ${g.end_utc})`);
    el.dataset.reason = g.reason;
  }
  for (const [a, b] of day.unaccounted) bar("unaccounted", "unaccounted", a, b, day, `unaccounted: neither a recording nor a logged gap\n${wib(a)} – ${wib(b)}\n(UTC ${utc(a)} – ${utc(b)})`);
  for (const [a, b] of day.held) bar("held", "held", a, b, day, `legal hold ${wib(a)} – ${wib(b)}`);
  root.dataset.ready = "yes";
}

function instantAt(event, day) {
  const box = root.getBoundingClientRect();
  const x = Math.min(Math.max(event.clientX - box.left, 0), box.width);
  return Math.round(day.start + x / box.width * (day.end - day.start));
}

async function main() {
  const url = `/ui/cameras/${encodeURIComponent(root.dataset.camera)}/day.json?day=${root.dataset.day}`;
  const answer = await fetch(url, { credentials: "same-origin" });
  if (!answer.ok) { document.getElementById("hover-time").textContent = `timeline unavailable (${answer.status})`; return; }
  const day = await answer.json();
  draw(day);
  const hover = document.getElementById("hover-time");
  root.addEventListener("mousemove", (e) => { const t = instantAt(e, day); hover.textContent = `${wib(t)} (UTC ${utc(t)})`; });
  root.addEventListener("click", (e) => exportLink(instantAt(e, day)));
  if (root.dataset.play !== "yes") return;
  const player = new Player(document.getElementById("video"), document.getElementById("now-playing"), root.dataset.camera, zone, abbr);
  const head = document.getElementById("playhead");
  player.onTime = (ms) => { head.hidden = false; place(head, ms, ms + 1, day); };
  root.addEventListener("click", (e) => player.playAt(instantAt(e, day)));
}

main();
