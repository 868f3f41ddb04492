#!/usr/bin/env bash
# Install the Debian packages archive needs outside its virtualenv (Debian 12):
#   - ffmpeg, for ffprobe (the venv's imageio-ffmpeg has ffmpeg but no ffprobe);
#   - GStreamer's RTSP server and its Python bindings for the system Python (/usr/bin/python3),
#     which run the simulated cameras (archive/sim/gst_rtsp_server.py);
#   - prometheus, for promtool, which checks and unit-tests the alert rules in ops/alerts.yml.
#   - chromium, the real browser the UI tests drive through Playwright (never `playwright install`).
#   - openssl, whose `openssl ts` is the RFC 3161 time-stamping authority of the tests (tests/fixtures/tsa.py);
#   - systemd, for `systemd-analyze verify` of the units in ops/ (tests/integration/test_ops_install.py).
#   - faketime (libfaketime), which runs a simulated camera with its clock off, so its RTCP sender reports
#     differ from the recorder's clock (tests/integration/test_camera_clock.py).
# Idempotent: when everything is installed it only checks (no apt-get update, no root needed).
# Otherwise runs `apt-get update` once and `apt-get install -y` non-interactively, as root (or
# through sudo when it is there). Ends by checking that /usr/bin/python3 can import the bindings.
set -euo pipefail

PACKAGES=(
  ffmpeg
  python3-gi
  gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-tools
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
  gstreamer1.0-rtsp
  prometheus
  chromium
  openssl
  systemd
  faketime
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "install ok installed" ]; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "install-debian-packages: apt-get not found; install these by hand: ${missing[*]}" >&2
    exit 1
  fi
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
      SUDO=(sudo)
    else
      echo "install-debian-packages: run as root to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "install-debian-packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
fi

# The bindings must import under the system Python (they are not visible inside a venv).
if ! /usr/bin/python3 - <<'EOF'
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: F401
Gst.init(None)
need = ["udpsrc", "rtpjitterbuffer", "rtph264depay", "rtph264pay", "h264parse", "rtph265pay",
        "rtpmp4gpay", "x264enc", "voaacenc", "timeoverlay", "clockoverlay"]
missing = [n for n in need if Gst.ElementFactory.find(n) is None]
if missing:
    raise SystemExit("GStreamer elements missing: " + " ".join(missing))
EOF
then
  echo "install-debian-packages: /usr/bin/python3 cannot use GStreamer's RTSP server (see above)" >&2
  exit 1
fi
command -v ffprobe >/dev/null || { echo "install-debian-packages: ffprobe not on PATH" >&2; exit 1; }
echo "install-debian-packages: ok (ffprobe, GStreamer $(gst-inspect-1.0 --version | sed -n 's/.*GStreamer \([0-9.]*\).*/\1/p' | head -n1) RTSP server)"
