"""Daemons run at a lower CPU (and optionally disk) priority than the servers."""
import os
import subprocess
import sys

import pytest

from swiftlike.daemon import DaemonConf

CHILD = '''
import os, sys
from swiftlike.daemon import DaemonConf, lower_priority
confs = [DaemonConf(nice_priority=int(n)) for n in sys.argv[1].split(',')]
before = os.getpriority(os.PRIO_PROCESS, 0)
lower_priority(confs)
print(os.getpriority(os.PRIO_PROCESS, 0) - before)
'''


@pytest.mark.parametrize('nices, added', [('10', 10), ('5,12', 5), ('0', 0)])
def test_nice_priority_is_added_once_and_the_least_wins(nices, added):
    out = subprocess.run([sys.executable, '-c', CHILD, nices], capture_output=True,
                         text=True, check=True, cwd=os.getcwd()).stdout
    assert int(out) == min(added, 19 - os.getpriority(os.PRIO_PROCESS, 0))


@pytest.mark.parametrize('bad', [dict(nice_priority=-1), dict(nice_priority=20),
                                 dict(ionice_class='realtime'), dict(ionice_priority=8)])
def test_bad_priorities_are_config_errors(bad):
    with pytest.raises(ValueError):
        DaemonConf(**bad).validate()


@pytest.mark.skipif(not os.path.exists('/usr/bin/ionice'), reason='needs ionice(1)')
def test_idle_io_class_is_set():
    code = ('import os, subprocess\n'
            'from swiftlike.daemon import DaemonConf, lower_priority\n'
            'lower_priority([DaemonConf(nice_priority=0, ionice_class="idle")])\n'
            'print(subprocess.run(["ionice", "-p", str(os.getpid())], capture_output=True,'
            ' text=True).stdout)')
    child = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                           check=True)
    assert 'idle' in child.stdout
