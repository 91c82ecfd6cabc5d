#!/usr/bin/env python3
"""CPU seconds per minute of every process of an aio, grouped by name.

    .venv/bin/python tools/daemon_cpu.py DATA_DIR [--seconds 120]

Finds the processes whose command line names DATA_DIR (an aio started with
`--processes server` gives each server and daemon a process of its own, so
each daemon is measured alone), reads utime + stime from /proc/<pid>/stat at
the start and the end of the window, and prints CPU seconds per minute for
each kind (object-replicator, container-server, ...), summed over the nodes.
A process that restarts during the window is counted from its start.
"""
import argparse
import os
import re
import sys
import time

TICK = os.sysconf('SC_CLK_TCK')


def processes(data_dir):
    found = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                args = f.read().decode('utf-8', 'replace').split('\0')
        except OSError:
            continue
        line = ' '.join(args)
        if data_dir not in line or 'daemon_cpu' in line:
            continue
        found[int(pid)] = kind_of(args)
    return found


def kind_of(args):
    """object-replicator, proxy-server, aio ... from a command line."""
    script = args[1] if len(args) > 1 and 'python' in os.path.basename(args[0]) else args[0]
    return re.sub(r'^swiftlike-', '', os.path.basename(script))


def cpu_seconds(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_dir')
    parser.add_argument('--seconds', type=float, default=120)
    parser.add_argument('--show-commands', action='store_true')
    args = parser.parse_args()
    data_dir = os.path.abspath(args.data_dir)
    procs = processes(data_dir)
    if not procs:
        sys.exit('no process names %s' % data_dir)
    start = {pid: cpu_seconds(pid) for pid in procs}
    begin = time.time()
    time.sleep(args.seconds)
    elapsed = time.time() - begin
    totals = {}
    for pid, kind in processes(data_dir).items():
        now = cpu_seconds(pid)
        if now is None:
            continue
        used = now - (start.get(pid) or 0.0)
        totals[kind] = totals.get(kind, 0.0) + used
        if args.show_commands:
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                print(pid, kind, f.read().replace(b'\0', b' ')[:200].decode())
    print('CPU seconds per minute over %.0f s:' % elapsed)
    for kind, used in sorted(totals.items(), key=lambda kv: -kv[1]):
        print('  %-22s %7.3f' % (kind, used * 60 / elapsed))
    print('  %-22s %7.3f' % ('total', sum(totals.values()) * 60 / elapsed))


if __name__ == '__main__':
    main()
