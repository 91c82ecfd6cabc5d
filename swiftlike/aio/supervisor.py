"""Starts, watches and stops the aio's child processes.

Each child runs in a process group of its own (so a stop or a kill -9 also
reaches the workers it forked) and asks the kernel to SIGTERM it when the
supervisor dies (PR_SET_PDEATHSIG), so even a kill -9 of the aio leaves no
orphans behind.
"""
import ctypes
import ctypes.util
import dataclasses
import os
import signal
import socket
import subprocess
import time
import urllib.parse

PR_SET_PDEATHSIG = 1


def _libc_prctl():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_prctl = _libc_prctl()


def _child_setup(parent_pid):
    """Runs in the child between fork and exec (after setsid)."""
    def setup():
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # The parent may have died before prctl took effect.
        if os.getppid() != parent_pid:
            os._exit(1)
    return setup


@dataclasses.dataclass
class ProcSpec:
    """One child: what to run, where its output goes, how to tell it is up."""
    name: str
    argv: list
    log_path: str
    ready_url: str = ''        # GET must answer 200 (the proxy's /healthcheck)
    ready_addr: tuple = ()     # (ip, port) must accept connections (storage servers)
    env: dict = dataclasses.field(default_factory=dict)


class ChildFailed(Exception):
    pass


class Supervisor:
    def __init__(self, base_env=None):
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.specs = {}
        self.procs = {}

    def add(self, spec):
        self.specs[spec.name] = spec

    def pid(self, name):
        proc = self.procs.get(name)
        return proc.pid if proc is not None and proc.poll() is None else None

    def running(self):
        return [name for name in self.specs if self.pid(name)]

    def start(self, name):
        if self.pid(name):
            return self.procs[name].pid
        spec = self.specs[name]
        os.makedirs(os.path.dirname(spec.log_path), exist_ok=True)
        env = dict(self.base_env)
        env.update(spec.env)
        with open(spec.log_path, 'ab') as log:
            log.write(('--- %s starting %s\n' % (time.strftime('%Y-%m-%d %H:%M:%S'),
                                                  ' '.join(spec.argv))).encode('utf-8'))
            log.flush()
            proc = subprocess.Popen(spec.argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env, close_fds=True,
                                    start_new_session=True,
                                    preexec_fn=_child_setup(os.getpid()))
        self.procs[name] = proc
        return proc.pid

    def signal(self, name, sig):
        """Send `sig` to the child's whole process group (it and its workers)."""
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return False
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def kill(self, name):
        """kill -9 the child and its workers, and reap it."""
        if self.signal(name, signal.SIGKILL):
            self.procs[name].wait()
        self._reap_group(name)

    def stop(self, name, timeout=15.0):
        self.stop_many([name], timeout)

    def stop_many(self, names, timeout=15.0):
        """SIGTERM each child's group, wait up to `timeout`, then SIGKILL what is left."""
        live = [n for n in names if self.signal(n, signal.SIGTERM)]
        deadline = time.monotonic() + timeout
        for name in live:
            try:
                self.procs[name].wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.signal(name, signal.SIGKILL)
                self.procs[name].wait()
        for name in names:
            self._reap_group(name)

    def stop_all(self, timeout=15.0):
        self.stop_many(list(self.procs), timeout)

    def _reap_group(self, name):
        """Workers forked by a dead master may outlive it: finish them off."""
        proc = self.procs.get(name)
        if proc is None:
            return
        deadline = time.monotonic() + 5.0
        while group_members(proc.pid) and time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)

    def exited(self):
        """[(name, returncode)] of children that have exited since started."""
        return [(name, proc.returncode) for name, proc in self.procs.items()
                if proc.poll() is not None]

    def forget(self, name):
        self.procs.pop(name, None)

    def wait_ready(self, names, timeout=60.0):
        """Block until every named child answers; ChildFailed if one dies or times out."""
        pending = list(names)
        deadline = time.monotonic() + timeout
        while pending:
            for name in list(pending):
                proc = self.procs.get(name)
                if proc is None or proc.poll() is not None:
                    raise ChildFailed('%s exited with status %s during start-up; see %s:\n%s'
                                      % (name, proc and proc.returncode,
                                         self.specs[name].log_path,
                                         tail(self.specs[name].log_path)))
                if is_ready(self.specs[name], proc.pid):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise ChildFailed('not ready after %ds: %s' % (timeout, ', '.join(pending)))
            if pending:
                time.sleep(0.1)


def http_status(url, timeout):
    """Status code of a plain GET of an http:// URL (0 if the answer is not HTTP).
    A socket, not urllib.request: that pulls http.client, email and ssl
    (~4 MB) into the long-running supervisor for a readiness check."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != 'http' or not parts.hostname:
        raise ValueError('not an http URL: %r' % url)
    request = 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' % (parts.path or '/', parts.netloc)
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as sock:
        sock.sendall(request.encode('ascii'))
        with sock.makefile('rb') as answer:
            fields = answer.readline(256).split()
    if len(fields) < 2 or not fields[0].startswith(b'HTTP/') or not fields[1].isdigit():
        return 0
    return int(fields[1])


def _listening_inodes(port):
    """Inodes of the TCP sockets listening on `port` (in this network
    namespace), from /proc/net/tcp and tcp6; None where those are unreadable."""
    found, readable = set(), False
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            # local address "ADDR:PORT" (hex), state 0A = LISTEN, inode
            if len(fields) > 9 and fields[3] == '0A' and \
                    int(fields[1].rsplit(':', 1)[1], 16) == port:
                found.add(fields[9])
    return found if readable else None


def holds_listener(pid, port):
    """Whether process `pid` holds the socket listening on `port`; True
    where that cannot be told (no /proc). A port answering is not enough to
    call a child ready: another process may have bound the port it was
    given (ports picked free, then bound seconds later), and the child then
    fails to bind while the other answers in its place."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return True
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return True
    for fd in fds:
        try:
            link = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if link.startswith('socket:[') and link[8:-1] in inodes:
            return True
    return False


def is_ready(spec, pid=None):
    """Whether the child answers where its spec says (and, given its pid,
    holds the listening socket it answers on)."""
    if spec.ready_url:
        try:
            answered = http_status(spec.ready_url, 2) == 200
        except (OSError, ValueError):
            return False
        port = urllib.parse.urlsplit(spec.ready_url).port or 80
    elif spec.ready_addr:
        try:
            with socket.create_connection(spec.ready_addr, timeout=1):
                answered = True
        except OSError:
            return False
        port = spec.ready_addr[1]
    else:
        return True
    return answered and (pid is None or holds_listener(pid, port))


def group_members(pgid):
    """Live (non-zombie) pids in process group `pgid`, from /proc."""
    members = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as f:
                stat = f.read().decode('ascii', 'replace')
        except OSError:
            continue
        # Fields after the ")" closing the command name: state ppid pgrp ...
        fields = stat[stat.rfind(')') + 2:].split()
        if len(fields) > 2 and fields[0] != 'Z' and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def tail(path, lines=20):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode('utf-8', 'replace')
    except OSError:
        return ''
    return '\n'.join(text.splitlines()[-lines:])
