// The grid: every tile plays its camera on ONE wall clock. The clock is the truth; each tile maps the
// clock's instant to its own media through the playlist's EXT-X-PROGRAM-DATE-TIME per segment, so a
// gap stays a gap (the tile says nothing is recorded and waits; it never jumps to the next
// recording), and corrects its drift (playback rate within 0.1-0.4 s, a seek beyond). Near-live
// (data-live=yes): the clock runs LIVE_DELAY_MS behind now and each tile's playlist is an EVENT
// playlist the player reloads. Every tick writes the clock and each tile's decoded wall time
// (hls.js playingDate) to data attributes in the same task: what the browser test reads.
import Hls from "./vendor/hls.light.min.mjs";
import { zoneLabel } from "./zone.js";
import { t } from "./i18n.js";

// a playlist spans at most 4 h (the search limit): 15 min ahead when replaying, 3 h ahead live
const WINDOW_MS = 15 * 60e3, LIVE_WINDOW_MS = 3 * 3600e3, LIVE_DELAY_MS = 12e3, TICK_MS = 200;
const root = document.getElementById("grid");
const zone = root.dataset.zone;
const abbr = zoneLabel(zone, JSON.parse(root.dataset.zoneAbbrs || "{}"));
const fmt = new Intl.DateTimeFormat("en-GB", { timeZone: zone, dateStyle: "short", timeStyle: "medium", hour12: false });
const wallFmt = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
let live = root.dataset.live === "yes";

function parts(ms) { return Object.fromEntries(wallFmt.formatToParts(new Date(ms)).map((x) => [x.type, x.value])); }
function wallText(ms) { const p = parts(ms); return `${p.year}-${p.month}-${p.day}T${p.hour === "24" ? "00" : p.hour}:${p.minute}:${p.second}`; }
function offsetAt(ms) { const p = parts(ms); return Date.UTC(+p.year, +p.month - 1, +p.day, p.hour === "24" ? 0 : +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000; }
// epoch ms of a "YYYY-MM-DDTHH:MM[:SS]" wall-clock time in the display zone
function fromWall(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!m) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let ms = guess - offsetAt(guess);
  const again = guess - offsetAt(ms);
  if (again !== ms) ms = again;
  return ms;
}

class Clock {
  constructor(ms) { this.base = ms; this.t0 = performance.now(); this.running = false; }
  now() { return this.running ? this.base + (performance.now() - this.t0) : this.base; }
  seek(ms) { this.base = ms; this.t0 = performance.now(); }
  run(on) { this.base = this.now(); this.t0 = performance.now(); this.running = on; }
}

class Tile {
  constructor(el) {
    this.el = el; this.camera = el.dataset.camera; this.video = el.querySelector("video");
    this.note = el.querySelector(".tile-note"); this.hls = null; this.loaded = false; this.lo = 0; this.hi = 0;
  }
  load(ms) {
    if (this.hls) this.hls.destroy();
    this.loaded = false;
    this.lo = ms - 1000; this.hi = live ? ms + LIVE_WINDOW_MS : ms + WINDOW_MS;
    const q = new URLSearchParams({ start: new Date(this.lo).toISOString(), end: new Date(this.hi).toISOString() });
    // loading starts once the playlist is known, at the clock's position: no fragment fetched
    // for another instant and then aborted by the first sync
    const hls = new Hls({ enableWorker: false, lowLatencyMode: false, autoStartLoad: false });
    this.hls = hls;
    hls.on(Hls.Events.LEVEL_LOADED, () => {
      if (this.loaded) return;
      this.loaded = true;
      const now = clock.now(), f = this.at(now);
      hls.startLoad(f ? f.start + (now - f.programDateTime) / 1000 : -1);
    });
    hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) this.state("failed", t("js.playback_failed", { details: data.details })); });
    hls.loadSource(`/ui/cameras/${encodeURIComponent(this.camera)}/playlist.m3u8?${q}`);
    hls.attachMedia(this.video);
    this.state("loading", t("js.loading"));
  }
  state(name, text) { this.el.dataset.state = name; if (this.note.textContent !== text) this.note.textContent = text; }
  // the playlist's segments as hls.js places them on the media timeline (start refined once parsed)
  get frags() {
    const d = this.hls && this.hls.levels && this.hls.levels[0] && this.hls.levels[0].details;
    return d ? d.fragments.filter((f) => f.programDateTime != null) : [];
  }
  // the segment (media position) of wall instant ms, or null in a gap
  at(ms) { return this.frags.find((f) => f.programDateTime <= ms && ms < f.programDateTime + f.duration * 1000) || null; }
  sync(ms, running) {
    if (ms < this.lo || ms >= this.hi) this.load(ms);
    const f = this.at(ms);
    if (!f) {
      if (!this.video.paused) this.video.pause();
      if (this.loaded) this.state("gap", t("js.nothing_recorded_at", { at: `${fmt.format(new Date(ms))} ${abbr(ms)}` }));
      delete this.el.dataset.wall;
      return;
    }
    const want = f.start + (ms - f.programDateTime) / 1000, drift = this.video.currentTime - want;
    if (Math.abs(drift) > 0.4 || !running) { if (Math.abs(drift) > 0.05) this.video.currentTime = want; this.video.playbackRate = 1; }
    else this.video.playbackRate = Math.abs(drift) > 0.1 ? (drift > 0 ? 0.9 : 1.1) : 1;
    if (running && this.video.paused) this.video.play().catch(() => {});
    if (!running && !this.video.paused) this.video.pause();
    const seen = this.hls.playingDate;
    if (seen && this.video.readyState >= 2) {
      this.el.dataset.wall = String(seen.getTime());
      this.state(running ? "playing" : "paused", `${fmt.format(seen)} ${abbr(seen.getTime())}`);
    }
  }
}

const tiles = [...root.querySelectorAll(".tile[data-state=loading]")].map((el) => new Tile(el));
const clock = new Clock(live ? Date.now() - LIVE_DELAY_MS : Number(root.dataset.start));
const label = document.getElementById("grid-clock"), at = document.getElementById("grid-at");
const playButton = document.getElementById("grid-play");
at.value = wallText(clock.now());
if (!Hls.isSupported()) for (const t of tiles) t.state("failed", t("js.no_hls"));
else for (const t of tiles) t.load(clock.now());
let wanted = true;  // the user wants it playing; the clock runs once every tile with footage can play
function ready() { return tiles.every((t) => t.el.dataset.state === "failed" || (t.loaded && (!t.at(clock.now()) || t.video.readyState >= 3))); }
function tick() {
  if (wanted && !clock.running && ready()) clock.run(true);
  const ms = clock.now();
  for (const t of tiles) t.sync(ms, clock.running);
  root.dataset.clock = String(Math.round(ms));
  root.dataset.running = clock.running ? "yes" : "no";
  label.textContent = `${fmt.format(new Date(ms))} ${abbr(ms)}`;
}
document.getElementById("grid-form").addEventListener("submit", (e) => {
  const ms = fromWall(at.value);
  if (ms == null) return;  // the server reads and refuses it
  e.preventDefault();
  clock.run(false); clock.seek(ms);
  if (live) { live = false; root.dataset.live = "no"; for (const t of tiles) t.load(ms); }
  tick();
});
playButton.addEventListener("click", () => {
  wanted = !wanted; if (!wanted) clock.run(false);
  playButton.textContent = wanted ? t("js.pause") : t("js.play");
});
tick();
setInterval(tick, TICK_MS);
