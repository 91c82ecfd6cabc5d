#!/usr/bin/env python3
"""Self and inclusive shares of the frames in a py-spy raw (collapsed) profile.

    py-spy record --gil -r 250 -f raw -o prof.txt -p PID; python3 tools/pyspy_top.py prof.txt 30
"""
import sys, collections
self_c = collections.Counter(); incl = collections.Counter(); total = 0
for line in open(sys.argv[1]):
    line = line.rstrip()
    if not line: continue
    stack, n = line.rsplit(' ', 1); n = int(n); total += n
    frames = stack.split(';')
    self_c[frames[-1]] += n
    for f in set(frames): incl[f] += n
N = int(sys.argv[2]) if len(sys.argv) > 2 else 25
print('total samples', total)
print('--- self'); [print('%5.1f%% %s' % (100.0*c/total, f)) for f, c in self_c.most_common(N)]
print('--- inclusive'); [print('%5.1f%% %s' % (100.0*c/total, f)) for f, c in incl.most_common(N)]
