#!/bin/bash
# Start an aio in the background for a benchmark and wait until its proxy
# answers: a fresh DIR, XFS devices, 2 proxy workers, one process per
# storage server and per daemon (so each one's CPU can be read apart).
#
#   bash tools/aio_start.sh DIR PORT [TREE] [AIO ARGS...]
#
# Storage servers listen from PORT+100. TREE (default: this checkout) is
# where the code comes from, for two versions side by side, e.g. with
# tools/cluster_ab.sh. Stop it with: pkill -f -- "--data-dir DIR"
set -eu
DIR=$1; PORT=$2; shift 2
HERE=$(cd "$(dirname "$0")/.." && pwd)
TREE=${1:-$HERE}; [ $# -gt 0 ] && shift
rm -rf "$DIR"; mkdir -p "$DIR"
cd "$TREE"
PYTHONPATH=$TREE setsid nohup "$HERE/.venv/bin/python" -m swiftlike.cli.aio --data-dir "$DIR" \
  --port "$PORT" --base-port $((PORT + 100)) --xfs --xfs-size 4096 --workers 2 \
  --storage-workers 0 --processes server "$@" > "$DIR.log" 2>&1 < /dev/null &
for _ in $(seq 90); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/info" && exit 0
  sleep 1
done
echo "aio on port $PORT did not answer; see $DIR.log" >&2
exit 1
