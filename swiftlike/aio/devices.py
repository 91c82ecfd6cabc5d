"""The aio's storage devices: plain directories, or XFS loopback mounts (--xfs).

With --xfs each node's device is a sparse image file formatted with mkfs.xfs
and mounted with `mount -o loop`, so servers can run with mount_check on and
see real XFS (xattrs, fallocate, a real free-space figure).
"""
import os
import shutil
import subprocess

from swiftlike.exceptions import ConfigError


def xfs_unavailable_reason():
    """Why --xfs cannot work here, or '' when it can."""
    if os.geteuid() != 0:
        return 'mounting loopback devices needs root'
    for tool in ('mkfs.xfs', 'mount', 'umount'):
        if not shutil.which(tool):
            return '%s not found (apt-get install xfsprogs)' % tool
    return ''


def _run(cmd):
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise ConfigError('%s failed: %s' % (' '.join(cmd), done.stdout.strip()[-500:]))


def ensure_devices(layout):
    """Create (or re-mount) every node's device; idempotent."""
    if layout.xfs:
        reason = xfs_unavailable_reason()
        if reason:
            raise ConfigError('--xfs: %s' % reason)
        os.makedirs(layout.images_dir, exist_ok=True)
    for node in layout.nodes:
        os.makedirs(node.devices_root, exist_ok=True)
        path = node.device_path
        os.makedirs(path, exist_ok=True)
        if layout.xfs and not os.path.ismount(path):
            image = os.path.join(layout.images_dir, '%s.img' % node.device)
            if not os.path.exists(image):
                with open(image, 'wb') as f:
                    f.truncate(layout.xfs_size_mb * 1024 * 1024)  # sparse: costs nothing yet
                _run(['mkfs.xfs', '-q', '-f', image])
            _run(['mount', '-o', 'loop,noatime', image, path])


def release_devices(layout):
    """Unmount the XFS devices (the images keep the data for the next start)."""
    if not layout.xfs:
        return
    for node in layout.nodes:
        if os.path.ismount(node.device_path):
            subprocess.run(['umount', node.device_path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
