#!/bin/bash
# Two running clusters measured at the same time: tools/cluster_cpu.py against
# each at once, ROUNDS times, then per method the median ratio B/A of the
# CPU per request (all of each cluster's processes). Both clusters see the
# same machine at the same moment, so its speed, which moves by ±30% from one
# minute to the next on a shared VM, cancels out of the ratio; run one after
# the other, it does not. (Ops/s are printed but not compared: the two runs'
# phases do not start at the same instant.)
#
#   bash tools/cluster_ab.sh PATTERN_A AUTH_URL_A PATTERN_B AUTH_URL_B [ROUNDS] [COUNT] [METHODS]
#
# PATTERN_* pick each cluster's processes by command line (cluster_cpu.py),
# e.g. two aios started with their own --data-dir, each from its own checkout:
#   bash tools/cluster_ab.sh /var/tmp/pa http://127.0.0.1:8080/auth/v1.0 \
#        /var/tmp/pb http://127.0.0.1:8300/auth/v1.0 4 3000 PUT,GET,GET,DELETE
set -eu
A=$1; URL_A=$2; B=$3; URL_B=$4; ROUNDS=${5:-3}; COUNT=${6:-3000}; METHODS=${7:-PUT,GET,DELETE}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d)
cd "$HERE"
for i in $(seq "$ROUNDS"); do
  ../.venv/bin/python cluster_cpu.py "$A" "$COUNT" 4096 "$URL_A" "$METHODS" > "$OUT/a.$i" 2>&1 &
  ../.venv/bin/python cluster_cpu.py "$B" "$COUNT" 4096 "$URL_B" "$METHODS" > "$OUT/b.$i" 2>&1 &
  wait
  sed 's/^/A /' "$OUT/a.$i"; sed 's/^/B /' "$OUT/b.$i"
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def rows(path):
    found = []
    for line in open(path):
        parts = line.split()
        if len(parts) > 5 and parts[4] == 'total':
            found.append((parts[0], float(parts[5])))
    return found
ratios = {}
for i in range(1, rounds + 1):
    for (method, a), (_m, b) in zip(rows('%s/a.%d' % (out, i)), rows('%s/b.%d' % (out, i))):
        ratios.setdefault(method, []).append(b / a)
for method, values in ratios.items():
    print('%-7s CPU per request B/A: median %.3f of %d (%s)' % (
        method, statistics.median(values), len(values), ' '.join('%.2f' % v for v in values)))
PY
rm -rf "$OUT"
