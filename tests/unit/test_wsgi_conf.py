"""Every server's [server] settings of the HTTP loop (wsgi.WsgiConf) are
refused when the config is read, naming the key, for each kind of server."""
import subprocess
import sys

import pytest

from swiftlike.config import load_section
from swiftlike.exceptions import ConfigError
from swiftlike.wsgi import SERVER_LOOPS, WsgiConf

BAD = [
    ('http_server', 'twisted'), ('http_server', ''), ('http_server', 'Native'),
    ('max_clients', '0'), ('max_clients', '-5'), ('backlog', '0'),
    ('client_timeout', '0'), ('client_timeout', '-1'), ('client_timeout', 'nan'),
    ('graceful_timeout', '-1'), ('graceful_timeout', 'nan'), ('workers', '-1'),
]


def _servers():
    from swiftlike.account.server import CONF_SECTION as a_section, Conf as AConf
    from swiftlike.container.server import CONF_SECTION as c_section, Conf as CConf
    from swiftlike.obj.server import CONF_SECTION as o_section, Conf as OConf
    from swiftlike.proxy.server import Conf as PConf
    return [('proxy-server', PConf), (o_section, OConf), (c_section, CConf),
            (a_section, AConf)]


@pytest.mark.parametrize('key,value', BAD)
def test_bad_values_are_refused_when_read(tmp_path, key, value):
    for section, cls in _servers():
        assert issubclass(cls, WsgiConf)
        path = tmp_path / 'server.conf'
        path.write_text('[%s]\n%s = %s\n' % (section, key, value))
        with pytest.raises(ConfigError) as err:
            load_section(str(path), section, cls)
        assert key in str(err.value), (section, str(err.value))


@pytest.mark.parametrize('value', sorted(SERVER_LOOPS))
def test_every_known_loop_is_taken(tmp_path, value):
    path = tmp_path / 'server.conf'
    path.write_text('[proxy-server]\nhttp_server = %s\nworkers = 0\ngraceful_timeout = 0\n' % value)
    from swiftlike.proxy.server import Conf
    conf = load_section(str(path), 'proxy-server', Conf)
    assert (conf.http_server, conf.workers, conf.graceful_timeout) == (value, 0, 0)


def test_a_server_with_a_bad_loop_says_so_and_exits(tmp_path):
    # The real entry point: refused at start, with the key in the message.
    from swiftlike.obj.server import CONF_SECTION
    path = tmp_path / 'object-server.conf'
    path.write_text('[%s]\ndevices = %s\nhttp_server = twisted\n' % (CONF_SECTION, tmp_path))
    proc = subprocess.run([sys.executable, '-c', 'from swiftlike.cli.servers import object_server;'
                           ' object_server()', str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert 'http_server' in proc.stderr and 'Traceback' not in proc.stderr
