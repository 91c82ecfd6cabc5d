"""`swiftlike-init COMMAND [SERVICE ...]`: start, stop, reload, restart, show
or run once the servers and daemons of one node, found from its config files.

A node's config directory (default /etc/swiftlike) holds some of
proxy-server.conf, object-server.conf, container-server.conf and
account-server.conf. Each one present is a server to run; each daemon section
([object-replicator], ...) in a storage server's file is a daemon to run
beside it. A SERVICE is one of those names, or `all` (the default), `main`
(the servers) or `rest` (the daemons).

Services run detached, each in a process group of its own, with a pid file
in --run-dir and its output appended to <--log-dir>/<service>.log:

  start    start what is not running; wait until each server answers HTTP
           (or report why it died)
  stop     SIGTERM (the servers' graceful stop: in-flight requests finish
           within graceful_timeout), then SIGKILL what is left after --kill-wait
  reload   servers: SIGHUP, which rolls their workers without closing the
           listening socket; daemons (and servers with workers = 0): restart
  restart  stop, then start
  status   one line per service; exit 1 when any is not running
  once     run each daemon's pass once, in the foreground, one after another

This is the tool for hosts without systemd and for tests; with systemd, the
units in etc/systemd/ run the same entry points in the foreground.
"""
import argparse
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time

from swiftlike.config import read_ini
from swiftlike.daemon import DAEMON_CLASSES
from swiftlike.exceptions import ConfigError

SERVERS = ('proxy-server', 'object-server', 'container-server', 'account-server')
DEFAULT_PORTS = {'proxy-server': 8080, 'object-server': 6200, 'container-server': 6201,
                 'account-server': 6202}
COMMANDS = ('start', 'stop', 'reload', 'restart', 'status', 'once')


@dataclasses.dataclass
class Service:
    """One server or daemon of this node and how to run it."""
    name: str            # 'object-server', 'object-replicator', ...
    conf_path: str
    module: str          # the swiftlike.cli module run with `python -m`
    args: tuple          # its arguments before the config file
    addr: tuple = ()     # (ip, port) a server listens on
    workers: int = 1
    graceful_timeout: float = 10.0

    @property
    def is_server(self):
        return self.name in SERVERS

    def argv(self, python=None, once=False):
        argv = [python or sys.executable, '-m', self.module] + list(self.args) + [self.conf_path]
        return argv + ['--once'] if once else argv


def _value(sections, section, key, default):
    return sections.get(section, {}).get(key, sections.get('DEFAULT', {}).get(key, default))


def discover(conf_dir):
    """[Service] configured in conf_dir: servers first, then daemons, in a
    fixed order. ConfigError when there is nothing to run."""
    services = []
    for server in SERVERS:
        path = os.path.join(conf_dir, server + '.conf')
        if not os.path.isfile(path):
            continue
        sections = read_ini(path)
        if server not in sections:
            raise ConfigError('%s: no [%s] section' % (path, server))
        kind = server.split('-')[0]
        ip = _value(sections, server, 'bind_ip', '127.0.0.1')
        try:
            port = int(_value(sections, server, 'bind_port', DEFAULT_PORTS[server]))
            workers = int(_value(sections, server, 'workers', 1))
            graceful = float(_value(sections, server, 'graceful_timeout', 10.0))
        except ValueError as err:
            raise ConfigError('%s [%s]: %s' % (path, server, err))
        services.append(Service(server, path, 'swiftlike.cli.servers', (kind,),
                                (ip, port), workers, graceful))
        for daemon, (_module, _cls, server_section) in DAEMON_CLASSES.items():
            if server_section == server and daemon in sections:
                services.append(Service(daemon, path, 'swiftlike.cli.daemons', (daemon,)))
    if not services:
        raise ConfigError('%s: no %s found' % (conf_dir, ', '.join(s + '.conf' for s in SERVERS)))
    servers = [s for s in services if s.is_server]
    return servers + [s for s in services if not s.is_server]


def select(services, names):
    """The services named (all / main / rest / a service name)."""
    if not names or 'all' in names:
        return list(services)
    chosen = []
    for name in names:
        if name == 'main':
            matched = [s for s in services if s.is_server]
        elif name == 'rest':
            matched = [s for s in services if not s.is_server]
        else:
            matched = [s for s in services if s.name == name]
            if not matched:
                known = sorted(set(SERVERS) | set(DAEMON_CLASSES))
                if name not in known:
                    raise ConfigError('unknown service %r (known: all, main, rest, %s)'
                                      % (name, ', '.join(known)))
                raise ConfigError('%s is not configured here' % name)
        chosen.extend(s for s in matched if s not in chosen)
    return chosen


class Node:
    """The services of one node, their pid files and logs."""

    def __init__(self, conf_dir, run_dir, log_dir, out=None, python=None, env=None):
        self.conf_dir, self.run_dir, self.log_dir = conf_dir, run_dir, log_dir
        self.out = out or sys.stdout
        self.python = python or sys.executable
        self.env = env
        self.services = discover(conf_dir)

    def say(self, text):
        self.out.write(text + '\n')
        self.out.flush()

    def pid_file(self, service):
        return os.path.join(self.run_dir, service.name + '.pid')

    def log_file(self, service):
        return os.path.join(self.log_dir, service.name + '.log')

    def pid(self, service):
        """The pid of the running service, or None (a stale pid file is removed)."""
        path = self.pid_file(service)
        try:
            with open(path) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        if _is_ours(pid, service):
            return pid
        _unlink(path)
        return None

    # -- start -------------------------------------------------------------------
    def start(self, services, timeout=60.0):
        os.makedirs(self.run_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        started, ok = [], True
        for service in services:
            pid = self.pid(service)
            if pid:
                self.say('%s already running (pid %d)' % (service.name, pid))
                continue
            with open(self.log_file(service), 'ab') as log:
                log.write(('--- %s swiftlike-init start %s\n' % (
                    time.strftime('%Y-%m-%d %H:%M:%S'), ' '.join(service.argv(self.python)))
                ).encode('utf-8'))
                log.flush()
                proc = subprocess.Popen(service.argv(self.python), stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                        close_fds=True, start_new_session=True)
            _write_pid(self.pid_file(service), proc.pid)
            started.append((service, proc))
        deadline = time.monotonic() + timeout
        for service, proc in started:
            if self._wait_up(service, proc, deadline):
                self.say('%s started (pid %d)' % (service.name, proc.pid))
            else:
                ok = False
        return ok

    def _wait_up(self, service, proc, deadline):
        """A server is up when it answers HTTP; a daemon when it has
        not died at once. False (and the log's tail) otherwise."""
        while True:
            if proc.poll() is not None:
                _unlink(self.pid_file(service))
                self.say('%s exited with status %d at start; %s ends with:\n%s' % (
                    service.name, proc.returncode, self.log_file(service),
                    _tail(self.log_file(service))))
                return False
            if not service.is_server or _answers_http(service.addr):
                return True
            if time.monotonic() > deadline:
                self.say('%s not answering on %s:%d yet; see %s' % (
                    (service.name,) + service.addr + (self.log_file(service),)))
                return False
            time.sleep(0.1)

    # -- stop --------------------------------------------------------------------
    def stop(self, services, kill_wait=None):
        """Graceful stop of each service (all signalled first, then waited for)."""
        waiting = []
        for service in services:
            pid = self.pid(service)
            if not pid:
                self.say('%s not running' % service.name)
                continue
            _signal_group(pid, signal.SIGTERM)
            waiting.append((service, pid))
        for service, pid in waiting:
            limit = kill_wait if kill_wait is not None else service.graceful_timeout + 5.0
            if not _wait_gone(pid, limit):
                self.say('%s (pid %d) still running after %.0fs: killed'
                         % (service.name, pid, limit))
                _signal_group(pid, signal.SIGKILL)
                _wait_gone(pid, 10.0)
            else:
                self.say('%s stopped' % service.name)
            _unlink(self.pid_file(service))
        return True

    def reload(self, services):
        ok = True
        for service in services:
            pid = self.pid(service)
            if pid and service.is_server and service.workers > 0:
                os.kill(pid, signal.SIGHUP)
                self.say('%s reloaded (workers rolled, pid %d)' % (service.name, pid))
            else:
                self.stop([service])
                ok = self.start([service]) and ok
        return ok

    def status(self, services):
        ok = True
        for service in services:
            pid = self.pid(service)
            if pid:
                where = ' on %s:%d' % service.addr if service.is_server else ''
                self.say('%s running (pid %d)%s' % (service.name, pid, where))
            else:
                self.say('%s not running' % service.name)
                ok = False
        return ok

    def once(self, services, timeout=None):
        """Each daemon's pass, in the foreground, one after another."""
        ok = True
        daemons = [s for s in services if not s.is_server]
        if not daemons:
            self.say('no daemon selected')
            return False
        for service in daemons:
            done = subprocess.run(service.argv(self.python, once=True), env=self.env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout)
            summary = [line for line in done.stderr.splitlines() if ' pass ' in line]
            self.say('%s once: %s%s' % (service.name, 'ok' if done.returncode == 0 else
                                        'FAILED (status %d)' % done.returncode,
                                        ('; ' + summary[-1].strip()) if summary else ''))
            if done.returncode != 0:
                self.say(done.stderr[-2000:])
                ok = False
        return ok


def _is_ours(pid, service):
    """Is `pid` alive and running this service's config (not a reused pid)?

    A process just started can show an empty command line for a moment
    (while the kernel sets up its exec), so an empty one is read again for up
    to a second before the pid counts as someone else's (a kernel thread's
    stays empty)."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                raw = f.read()
            with open('/proc/%d/stat' % pid, 'rb') as f:
                state = f.read().rsplit(b')', 1)[-1].split()[0]
        except (OSError, IndexError):
            return False
        if state == b'Z':
            return False
        if raw or time.monotonic() > deadline:
            return os.fsencode(service.conf_path) in raw.split(b'\0')
        time.sleep(0.01)


def _wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            with open('/proc/%d/stat' % pid, 'rb') as f:
                if f.read().rsplit(b')', 1)[-1].split()[0] == b'Z':
                    return True
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _signal_group(pid, sig):
    """The service and the workers it forked share its process group."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _answers_http(addr):
    """Does the server answer HTTP (any status)? A TCP connect alone is not
    enough: the kernel completes it as soon as the master has bound, before
    any worker serves."""
    ip, port = addr
    if ip in ('0.0.0.0', ''):
        ip = '127.0.0.1'
    elif ip == '::':
        ip = '::1'
    try:
        with socket.create_connection((ip, port), timeout=2) as sock:
            sock.sendall(b'GET /healthcheck HTTP/1.0\r\nHost: init\r\n\r\n')
            return sock.recv(5) == b'HTTP/'
    except OSError:
        return False


def _write_pid(path, pid):
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as f:
        f.write('%d\n' % pid)
    os.replace(tmp, path)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _tail(path, lines=15):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            return '\n'.join(f.read().decode('utf-8', 'replace').splitlines()[-lines:])
    except OSError:
        return ''


def main(argv=None, out=None):
    parser = argparse.ArgumentParser(
        prog='swiftlike-init', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n\n'.join(__doc__.split('\n\n')[1:]))
    parser.add_argument('command', choices=COMMANDS)
    parser.add_argument('services', nargs='*', metavar='SERVICE',
                        help='all (default), main, rest, or names such as object-server')
    parser.add_argument('--conf-dir', default=os.environ.get('SWIFTLIKE_CONF_DIR',
                                                             '/etc/swiftlike'))
    parser.add_argument('--run-dir', default='/run/swiftlike', help='where pid files go')
    parser.add_argument('--log-dir', default='/var/log/swiftlike',
                        help="where each service's output is appended")
    parser.add_argument('--timeout', type=float, default=60.0,
                        help='seconds start waits for each server to answer')
    parser.add_argument('--kill-wait', type=float, default=None,
                        help='seconds stop waits before SIGKILL (default: the '
                             "server's graceful_timeout + 5)")
    args = parser.parse_args(argv)
    out = out or sys.stdout
    try:
        node = Node(args.conf_dir, args.run_dir, args.log_dir, out=out)
        services = select(node.services, args.services)
    except ConfigError as err:
        sys.stderr.write('swiftlike-init: %s\n' % err)
        return 2
    if args.command == 'start':
        ok = node.start(services, args.timeout)
    elif args.command == 'stop':
        ok = node.stop(services, args.kill_wait)
    elif args.command == 'restart':
        node.stop(services, args.kill_wait)
        ok = node.start(services, args.timeout)
    elif args.command == 'reload':
        ok = node.reload(services)
    elif args.command == 'status':
        ok = node.status(services)
    else:
        ok = node.once(services)
    return 0 if ok else 1


def console_main():
    sys.exit(main())


if __name__ == '__main__':
    console_main()
