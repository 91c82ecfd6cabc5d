"""Object auditor: reads every stored object back and quarantines the bad ones.

For each winning .data file it checks that the metadata is readable, that the
file's size equals its Content-Length, and that the MD5 of its bytes equals
its ETag, reading at no more than bytes_per_second (and files_per_second). A
bad object's directory is moved to <device>/quarantined/objects and its suffix
hash invalidated, so the replicator notices the difference and brings a good
copy back from another replica.
"""
import dataclasses
import hashlib
import os
import time

from swiftlike import direct_io
from swiftlike.constraints import is_decimal
from swiftlike.daemon import Daemon, DaemonConf
from swiftlike.obj import metadata as xattr_meta
from swiftlike.obj.backend import resolve_files
from swiftlike.obj.diskfile import OBJECTS_DIR
from swiftlike.obj.object_files import quarantine_hash_dir
from swiftlike.obj.replication_protocol import is_hash
from swiftlike.obj.suffix_hashes import is_suffix

# Bytes per read: direct reads get no read-ahead from the kernel, so they
# come in big steps.
READ_CHUNK = 1 << 20


@dataclasses.dataclass
class AuditorConf(DaemonConf):
    interval: float = 1800.0
    files_per_second: float = 20.0
    bytes_per_second: float = 10 * 1024 * 1024
    # Seconds between progress lines within a long pass.
    log_time: float = 3600.0


class ObjectAuditor(Daemon):
    name = 'object-auditor'
    recon_kind = 'object'
    conf_class = AuditorConf

    def sweep(self):
        counters = self.counters(('files_checked', 'bytes_checked', 'quarantined', 'errors'))
        start = last_log = time.time()
        for device in self.local_devices():
            dev_path = os.path.join(self.conf.devices, device)
            stats = counters.of(device)
            for part_path, hash_dir in iter_hash_dirs(os.path.join(dev_path, OBJECTS_DIR)):
                if self._stopping:
                    break
                self.audit_hash_dir(dev_path, part_path, hash_dir, stats)
                if time.time() - last_log > self.conf.log_time:
                    last_log = time.time()
                    self.logger.info('object-auditor progress: %s', counters.totals())
        stats = counters.totals()
        elapsed = max(time.time() - start, 1e-6)
        stats['bytes_per_second'] = round(stats['bytes_checked'] / elapsed, 1)
        return stats

    def swift_recon(self, stats, start, elapsed):
        """Swift's key for a whole-file audit pass (there is no zero-byte-only
        pass). `passes` counts the files that passed, as Swift's does: those
        checked but neither quarantined nor failed with an error."""
        passed = max(0, stats['files_checked'] - stats['quarantined'] - stats['errors'])
        return {'object_auditor_stats_ALL': {
            'audit_time': elapsed, 'bytes_processed': stats['bytes_checked'],
            'errors': stats['errors'], 'passes': passed,
            'quarantined': stats['quarantined'], 'start_time': start}}

    def audit_hash_dir(self, dev_path, part_path, hash_dir, stats):
        try:
            names = os.listdir(hash_dir)
        except OSError:
            return
        fileset = resolve_files(names)
        if not fileset.data:
            return
        path = os.path.join(hash_dir, fileset.data)
        try:
            problem = self.audit_file(path, stats)
        except FileNotFoundError:
            return      # replaced or deleted meanwhile
        except OSError as err:
            stats['errors'] += 1
            self.logger.error('cannot audit %s: %s', path, err)
            return
        if problem is None:
            return
        # Quarantine only if the bad file is still the one that wins.
        if resolve_files(_listdir(hash_dir)).data != fileset.data:
            return
        target = quarantine_hash_dir(dev_path, part_path, os.path.basename(hash_dir))
        if target:
            stats['quarantined'] += 1
            self.logger.warning('quarantined %s to %s: %s', path, target, problem)

    def audit_file(self, path, stats):
        """None when the .data is sound, else what is wrong with it."""
        fd = os.open(path, os.O_RDONLY)
        try:
            try:
                meta = xattr_meta.read_metadata(fd)
            except xattr_meta.MetadataError as err:
                return 'metadata: %s' % err
            self.limit(files=1)
            size = os.fstat(fd).st_size
            expected = meta.get('Content-Length', '')
            if not is_decimal(expected) or int(expected) != size:
                return 'size %d does not match Content-Length %r' % (size, expected)
            md5 = hashlib.md5(usedforsecurity=False)
            offset = 0
            # Past the page cache: a pass reads every object on the device
            # once, and would otherwise push out what the servers read often.
            reader = direct_io.FileReader(fd)
            try:
                while offset < size:
                    chunk = reader.pread(min(READ_CHUNK, size - offset), offset)
                    if not chunk:
                        return 'file shorter than its size while reading'
                    md5.update(chunk)
                    offset += len(chunk)
                    self.limit(nbytes=len(chunk))
            finally:
                reader.close()
            stats['files_checked'] += 1
            stats['bytes_checked'] += size
            etag = meta.get('ETag', '').strip('"').lower()
            if md5.hexdigest() != etag:
                return 'MD5 %s does not match ETag %r' % (md5.hexdigest(), etag)
            return None
        finally:
            os.close(fd)


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def iter_hash_dirs(objects_dir):
    """(partition path, hash dir path) of every object directory under objects/."""
    for part in sorted(_listdir(objects_dir)):
        if not is_decimal(part):
            continue
        part_path = os.path.join(objects_dir, part)
        for suffix in sorted(_listdir(part_path)):
            if not is_suffix(suffix):
                continue
            suffix_path = os.path.join(part_path, suffix)
            for name_hash in sorted(_listdir(suffix_path)):
                if is_hash(name_hash) and name_hash.endswith(suffix):
                    yield part_path, os.path.join(suffix_path, name_hash)
