"""swiftlike.fs.is_mount_point gives os.path.ismount's answers (in two stat
calls, without resolving every component of the parent's path)."""
import os
import subprocess

import pytest

from swiftlike import fs


def _paths(tmp_path):
    (tmp_path / 'dir').mkdir()
    (tmp_path / 'file').write_bytes(b'x')
    os.symlink('/proc', tmp_path / 'link-to-mount')
    os.symlink(tmp_path / 'dir', tmp_path / 'link-to-dir')
    devices = tmp_path / 'devices'
    devices.mkdir()
    os.symlink(devices, tmp_path / 'devices-link')
    return ['/', '/proc', '/proc/', '/dev', str(tmp_path), str(tmp_path / 'dir'),
            str(tmp_path / 'dir') + '/', str(tmp_path / 'file'), str(tmp_path / 'missing'),
            str(tmp_path / 'missing' / 'deeper'), str(tmp_path / 'link-to-mount'),
            str(tmp_path / 'link-to-dir'), str(devices), str(tmp_path / 'devices-link'), '',
            'relative-missing', 'bad\0name']


def test_answers_as_os_path_ismount(tmp_path):
    for path in _paths(tmp_path):
        assert fs.is_mount_point(path) == os.path.ismount(path), path


@pytest.mark.skipif(os.geteuid() != 0, reason='mounting a tmpfs needs root')
def test_a_real_mount_under_a_symlinked_devices_dir(tmp_path):
    # A device mounted under `devices`, reached directly and through a
    # symlink to `devices` (its parent is then the symlink's target).
    devices = tmp_path / 'devices'
    (devices / 'sda').mkdir(parents=True)
    (devices / 'sdb').mkdir()
    os.symlink(devices, tmp_path / 'devices-link')
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', str(devices / 'sda')],
                   check=True)
    try:
        for base in (devices, tmp_path / 'devices-link'):
            assert fs.is_mount_point(str(base / 'sda')) is True
            assert fs.is_mount_point(str(base / 'sdb')) is False
            for name in ('sda', 'sdb'):
                assert fs.is_mount_point(str(base / name)) == os.path.ismount(str(base / name))
    finally:
        subprocess.run(['umount', str(devices / 'sda')], check=True)
    assert fs.is_mount_point(str(devices / 'sda')) is False
