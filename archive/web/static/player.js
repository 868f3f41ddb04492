// Playback of one camera from a wall-clock instant, through hls.js over this origin's HLS playlist
// (one EXT-X-PROGRAM-DATE-TIME per segment, so the wall clock of every frame is known).
import Hls from "./vendor/hls.light.min.mjs";
import { t } from "./i18n.js";

const WINDOW_MS = 15 * 60 * 1000;

export class Player {
  constructor(video, label, camera, zone, abbr) {
    this.abbr = abbr;
    this.video = video;
    this.label = label;
    this.camera = camera;
    this.fmt = new Intl.DateTimeFormat("en-GB", { timeZone: zone, dateStyle: "short", timeStyle: "medium", hour12: false });
    this.hls = null;
    this.onTime = null;
    video.addEventListener("timeupdate", () => this.tick());
  }

  playAt(ms) {
    if (!Hls.isSupported()) { this.label.textContent = t("js.no_hls"); return; }
    if (this.hls) this.hls.destroy();
    const start = new Date(ms - 1000).toISOString(), end = new Date(ms + WINDOW_MS).toISOString();
    const url = `/ui/cameras/${encodeURIComponent(this.camera)}/playlist.m3u8?start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`;
    const hls = new Hls({ enableWorker: false, lowLatencyMode: false });
    this.hls = hls;
    this.target = ms;
    hls.on(Hls.Events.LEVEL_LOADED, (_, data) => {
      const first = data.details.fragments[0];
      if (!first || first.programDateTime == null) { this.label.textContent = t("js.nothing_recorded"); return; }
      this.video.currentTime = Math.max(0, (ms - first.programDateTime) / 1000);
      this.video.play().catch(() => {});
    });
    hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) this.label.textContent = t("js.playback_failed", { details: data.details }); });
    hls.loadSource(url);
    hls.attachMedia(this.video);
    this.label.textContent = t("js.loading_at", { at: `${this.fmt.format(new Date(ms))} ${this.abbr(ms)}` });
  }

  tick() {
    const at = this.hls && this.hls.playingDate;
    if (!at) return;
    this.label.textContent = t("js.playing", { at: `${this.fmt.format(at)} ${this.abbr(at.getTime())}`, utc: at.toISOString() });
    this.label.dataset.wall = String(at.getTime());
    if (this.onTime) this.onTime(at.getTime());
  }
}
