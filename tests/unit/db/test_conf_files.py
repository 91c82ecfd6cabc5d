"""etc/container-server.conf and etc/account-server.conf are the config
reference: every key is documented, and the files load."""
import dataclasses
import os
import re

import pytest

from swiftlike.account import server as account_server
from swiftlike.config import load_section
from swiftlike.container import server as container_server

ETC = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'etc')


@pytest.mark.parametrize('module,name', [(container_server, 'container-server.conf'),
                                         (account_server, 'account-server.conf')])
def test_every_key_documented_and_loads(module, name):
    path = os.path.join(ETC, name)
    text = open(path).read()
    documented = set(re.findall(r'^# (\w+) =', text, re.M))
    fields = {f.name for f in dataclasses.fields(module.Conf)}
    assert fields <= documented, sorted(fields - documented)
    conf = load_section(path, module.CONF_SECTION, module.Conf)
    assert conf.mount_check is True
