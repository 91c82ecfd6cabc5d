#!/bin/bash
# The cluster with every daemon running against without: one aio data dir
# (--processes server, XFS), restarted for each run, `bench.sh` in full each
# time, for PAIRS pairs in the order off/on, on/off, off/on...: a cluster
# that ages over the runs (its DBs and file system fill up) then weighs on
# both conditions alike instead of always on the second run of a pair.
# Per-process CPU during each run (tools/daemon_cpu.py); at the end each
# metric's figures and on/off ratios.
#
#   bash tools/daemons_onoff.sh DATA_DIR OUT_DIR [PAIRS]
#
# AIO_ARGS adds aio flags to every run, e.g. AIO_ARGS="--workers 2 --storage-workers 0".
# The data dir is kept between runs, so the cluster ages as a real one does.
# Each run starts 45 s after the aio (with the daemons on, the first passes
# are over by then; with them off, the servers have settled as long).
set -u
D=$1; OUT=$2; PAIRS=${3:-2}
HERE=$(cd "$(dirname "$0")" && pwd); cd "$HERE/.."
mkdir -p "$OUT"
start() {
  nohup .venv/bin/swiftlike-aio --xfs --xfs-size 6144 --data-dir "$D" --port 8070 --base-port 6410 \
    --processes server --log-level WARNING ${AIO_ARGS:-} "$@" > "$OUT/aio.log" 2>&1 < /dev/null &
  for _ in $(seq 90); do
    curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8070/info 2>/dev/null | grep -q 200 && break
    sleep 1
  done
}
# (by the aio's flag and the servers' config paths: this script's own command
# line names $D too)
# Waits until every process is gone and the devices are unmounted: a busy
# daemon can take ~10 s to stop, and the next start needs the ports and mounts.
stop() {
  pkill -f -- "--data-dir $D"
  for _ in $(seq 120); do
    pgrep -f -- "--data-dir $D" > /dev/null || pgrep -f "$D/etc/" > /dev/null || \
      grep -q " $D/" /proc/mounts || break
    sleep 0.5
  done
  pkill -KILL -f "$D/etc/"
  sleep 2
}
for pair in $(seq 1 "$PAIRS"); do
  order="off on"; [ $((pair % 2)) = 0 ] && order="on off"
  for mode in $order; do
    if [ $mode = off ]; then start --no-daemons; else start; fi
    sleep 45
    .venv/bin/python tools/daemon_cpu.py "$D" --seconds 85 > "$OUT/cpu-$mode$pair.txt" 2>&1 &
    cpu=$!
    bash /work/shared/tools/bench.sh http://127.0.0.1:8070/auth/v1.0 test:tester testing \
      > "$OUT/$mode$pair.txt" 2>/dev/null
    wait $cpu
    stop
  done
done
python3 - "$OUT" "$PAIRS" <<'PY'
import statistics, sys
out, pairs = sys.argv[1], int(sys.argv[2])
def load(path):
    d = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 2:
            try:
                d[f[0]] = float(f[1])
            except ValueError:
                pass
    return d
runs = {(m, i): load('%s/%s%d.txt' % (out, m, i)) for m in ('off', 'on') for i in range(1, pairs + 1)}
for key in sorted(runs[('off', 1)]):
    if not key.endswith(('_ops', '_MBps', '_p99_ms')):
        continue
    ratios = [runs[('on', i)][key] / runs[('off', i)][key] for i in range(1, pairs + 1)
              if runs[('off', i)].get(key) and key in runs[('on', i)]]
    figures = ' '.join('%.1f/%.1f' % (runs[('off', i)].get(key, 0), runs[('on', i)].get(key, 0))
                       for i in range(1, pairs + 1))
    print('%-28s off/on %s  on/off %s  mean %.2f' % (
        key, figures, ' '.join('%.2f' % r for r in ratios), statistics.mean(ratios)))
PY
