"""The object server's settings ([object-server]), read once at start."""
import dataclasses

from swiftlike import ranges
from swiftlike.server_base import StorageConf

CONF_SECTION = 'object-server'


@dataclasses.dataclass
class Conf(StorageConf):
    bind_port: int = 6200
    # Bytes per read from the client and per read from disk.
    network_chunk_size: int = 65536
    disk_chunk_size: int = 65536
    # Bytes gathered per disk write of a big PUT (each write is a thread-pool
    # round trip, so big objects move in big steps).
    disk_write_size: int = 1048576
    # A big PUT's data is flushed to disk every this many bytes while it
    # arrives (0: only by the fsync before the answer, which always happens).
    # Off by default: with several uploads per device the early flushes
    # serialise them (4 x 64 MiB on XFS loop devices: 94 MB/s at 8 MiB, 130-154 at 0).
    bytes_per_sync: int = 0
    # Bytes per disk call of a GET after its first (the open's, disk_chunk_size).
    disk_read_size: int = 1048576
    # Bodies of objects over 1 MiB are read past the page cache (O_DIRECT).
    direct_reads: bool = True
    # Preallocate the object's size before writing (when the size is known).
    fallocate: bool = True
    # Metadata-only disk calls (the open of a HEAD or GET, the existence check
    # of a PUT) run inline on the event loop while the device answers fast (no
    # disk call of it slower than 50 ms now or in the last minute), saving a
    # thread-pool round trip each; false: every disk call goes to a thread.
    inline_metadata_reads: bool = True
    # Likewise a small PUT's or a DELETE's writes where flushes are shared
    # (group_sync): inline on the event loop, the wait for the flush a green
    # thread's, the flush itself in a disk thread.
    inline_small_writes: bool = True
    # Writes in flight at once on one device share their flushes: a data
    # file's bytes are written out before its rename, then one syncfs of the
    # device's filesystem makes all their files and renames durable (files
    # over 1 MiB still fsync their own data). 'auto':
    # on devices that are mount points (a filesystem of their own) only;
    # 'false': each write fsyncs its file and directories itself. Nothing is
    # acknowledged before it is durable either way.
    group_sync: str = 'auto'
    # How long a PUT/DELETE waits for its container updates before answering;
    # slower updates go on in the background (async_pending on failure).
    container_update_timeout: float = 1.0
    # Updates to one container replica that come at once, or while one is in
    # flight there, go together in one UPDATE request (no timer is waited for).
    batch_container_updates: bool = True
    expiring_objects_account: str = '.expiring_objects'
    expiring_objects_container_divisor: int = 86400
    # Largest number of ranges honoured in one Range header (more: whole body).
    max_ranges: int = ranges.MAX_RANGES

    def validate(self):
        if min(self.network_chunk_size, self.disk_chunk_size, self.disk_write_size,
               self.disk_read_size) < 1:
            raise ValueError('chunk sizes must be positive')
        if self.bytes_per_sync < 0:
            raise ValueError('bytes_per_sync must not be negative')
        if self.group_sync.lower() not in ('auto', 'true', 'false'):
            raise ValueError('group_sync must be auto, true or false')
        if self.expiring_objects_container_divisor < 1:
            raise ValueError('expiring_objects_container_divisor must be positive')


def group_sync_mode(text):
    """The config's 'auto' / 'true' / 'false' as the manager takes it."""
    text = text.lower()
    return 'auto' if text == 'auto' else text == 'true'
