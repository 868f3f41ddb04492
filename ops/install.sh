#!/usr/bin/env bash
# Install what the systemd units expect (ops/archive-node@.service, ops/archive-api.service,
# ops/seaweedfs-*.service): service users, folders (mode 0700), configuration templates (0600),
# the SeaweedFS security config and S3 identities, and the unit files. Run as root from the checkout
# in /opt/archive after ops/setup.sh. Idempotent: what exists (configs, keys) is kept, never overwritten.
#
#   ops/install.sh [--prefix DIR] [--dry-run]
#
# --prefix DIR  install below DIR instead of / (paths inside the templates follow); users are
#               created and ownership changed only with the prefix / and as root
# --dry-run     print every action, change nothing
# Exit 2 with a sentence on bad input.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=/
dry=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "--prefix needs a directory" >&2; exit 2; }; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --dry-run) dry=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (use --prefix DIR, --dry-run)" >&2; exit 2 ;;
    esac
done
case "$prefix" in /*) ;; *) echo "--prefix must be an absolute path, not $prefix" >&2; exit 2 ;; esac
P=${prefix%/}
system=0
if [ -z "$P" ] && [ "$(id -u)" = 0 ]; then system=1; fi
py="$here/.venv/bin/python"

run() { echo "+ $*"; if [ "$dry" = 0 ]; then "$@"; fi; }
private_dir() { run install -d -m 0700 "$1"; if [ "$system" = 1 ]; then run chown "$2:$2" "$1"; fi; }
template() {  # template PATH OWNER: stdin becomes PATH (0600) unless PATH exists
    local body; body=$(cat)
    if [ -e "$1" ]; then echo "= $1 exists: kept"; return; fi
    echo "+ write $1 (0600)"
    if [ "$dry" = 0 ]; then (umask 077; printf '%s\n' "$body" > "$1"); fi
    if [ "$system" = 1 ]; then run chown "$2:$2" "$1"; fi
}

if [ "$system" = 1 ]; then
    for u in archive seaweedfs; do
        if ! id -u "$u" >/dev/null 2>&1; then
            run useradd --system --home-dir "/var/lib/$u" --shell /usr/sbin/nologin --user-group "$u"
        fi
    done
else
    echo "= prefix $prefix (or not root): no users created, no ownership changed"
fi

for d in "$P/etc/archive" "$P/var/lib/archive" "$P/var/lib/archive/spool" "$P/var/lib/archive/backups"; do
    private_dir "$d" archive
done
for d in "$P/etc/seaweedfs" "$P/var/lib/seaweedfs" "$P/var/lib/seaweedfs/master" "$P/var/lib/seaweedfs/filer" \
         "$P/var/lib/seaweedfs/volume-r1" "$P/var/lib/seaweedfs/volume-r2" "$P/var/lib/seaweedfs/volume-r3"; do
    private_dir "$d" seaweedfs
done

# gRPC mutual TLS + JWT keys (security.toml) and the S3 identities (s3.json), as the embedded store makes them.
if [ -e "$P/etc/seaweedfs/security.toml" ]; then
    echo "= $P/etc/seaweedfs/security.toml exists: kept"
elif [ "$dry" = 1 ]; then
    echo "+ write $P/etc/seaweedfs/security.toml, ca.crt, node.crt, node.key and s3.json (0600)"
else
    "$py" - "$P/etc/seaweedfs" <<'PY'
import sys
from pathlib import Path
from archive.storage.seaweed_identities import load_or_create_identities
from archive.storage.seaweed_security import write_security_config
conf = Path(sys.argv[1])
write_security_config(conf)
load_or_create_identities(conf / "s3.json")
print(f"+ wrote {conf}/security.toml, ca.crt, node.crt, node.key, s3.json (0600)")
PY
fi
keys=("" "")
if [ "$dry" = 0 ] && [ -e "$P/etc/seaweedfs/s3.json" ]; then
    mapfile -t keys < <("$py" - "$P/etc/seaweedfs/s3.json" <<'PY'
import sys
from pathlib import Path
from archive.storage.seaweed_identities import read_identities
ids, _ = read_identities(Path(sys.argv[1]))
print(ids.ingest.access_key if ids else "")
print(ids.ingest.secret_key if ids else "")
PY
)
fi
if [ "$system" = 1 ]; then run chown -R seaweedfs:seaweedfs "$P/etc/seaweedfs"; fi

template "$P/etc/seaweedfs/cluster.env" seaweedfs <<EOT
# Read by ops/seaweedfs-*.service. One host here; for three hosts set SEAWEED_IP/BIND per host, MASTERS
# to the master(s), and copy /etc/seaweedfs/security.toml and the certificates to every host.
SEAWEED_IP=127.0.0.1
SEAWEED_BIND=127.0.0.1
MASTER_PORT=9333
MASTER_PEERS=none
MASTERS=127.0.0.1:9333
VOLUME_PORT=8080
VOLUME_SIZE_LIMIT_MB=1024
MIN_FREE_SPACE=5GiB
DATA_CENTER=dc1
FILER_PORT=8888
FILER=127.0.0.1:8888
S3_BIND=127.0.0.1
S3_PORT=8333
EOT

template "$P/etc/archive/archive.env" archive <<EOT
# Secrets of /etc/archive/archive.toml (read by ops/archive-node@.service and ops/archive-api.service).
# The archive-ingest key pair of /etc/seaweedfs/s3.json (filled in by ops/install.sh when it made it).
ARCHIVE_STORAGE_ACCESS_KEY=${keys[0]:-}
ARCHIVE_STORAGE_SECRET_KEY=${keys[1]:-}
EOT

template "$P/etc/archive/archive.toml" archive <<EOT
# archive configuration for recorder nodes and the API (README "Configuration"; ops/storage.md).
# Store keys come from /etc/archive/archive.env; give every node the same file.
[paths]
data_dir = "$P/var/lib/archive"

[storage]
mode = "s3"
endpoint = "127.0.0.1:8333"      # the SeaweedFS S3 gateway (or MinIO / AWS S3: ops/storage.md)
secure = false                   # true with TLS (MinIO with certificates, AWS)
region = "us-east-1"
media_bucket = "archive-media"
log_bucket = "archive-log"
lock_mode = "GOVERNANCE"

[catalog]
url = "postgresql://archive@127.0.0.1/archive"

[recorder]
spool_dir = "$P/var/lib/archive/spool"

[api]
host = "127.0.0.1"
port = 8080
EOT

for unit in archive-node@.service archive-api.service seaweedfs-master.service seaweedfs-volume@.service \
            seaweedfs-filer.service seaweedfs-s3.service; do
    run install -D -m 0644 "$here/ops/$unit" "$P/etc/systemd/system/$unit"
done
if [ "$system" = 1 ]; then run systemctl daemon-reload; fi
echo "install: done (prefix $prefix$([ "$dry" = 1 ] && echo ", dry run: nothing changed"))"
