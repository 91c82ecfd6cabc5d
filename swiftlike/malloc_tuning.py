"""glibc malloc settings for long-running processes that move megabyte buffers.

Left alone, glibc (1) serves big buffers from mmap only until the first is
freed, then keeps them in the arena of the thread that freed them, so a
server holds on to ~1 MiB per disk thread after one big GET; and (2) gives
the top of the heap back whenever 128 KiB of it is free, so a PUT's megabyte
of network chunks is returned and faulted in again for every batch (half the
kernel CPU of a big PUT).

So the settings are fixed. Buffers under 2 MiB come from the heap: a whole
GET's 1 MiB disk reads (`disk_read_size`) then reuse memory instead of
mapping, faulting in and zeroing a fresh megabyte each (that was 40% of the
object server's CPU for a 64 MiB GET). At most 4 arenas, so what the heap
keeps after big reads is bounded by those arenas rather than by the number of
disk threads, and a heap top over 4 MiB is given back. The
MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_ARENA_MAX
environment variables, when set, win.
"""
import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 2 * 1024 * 1024
TRIM_THRESHOLD = 4 * 1024 * 1024
ARENA_MAX = 4


def tune_malloc():
    """Apply the settings above; True when glibc took them (False elsewhere)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6').mallopt
    except (OSError, AttributeError):
        return False
    ok = True
    for env, param, value in (('MALLOC_MMAP_THRESHOLD_', M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                              ('MALLOC_TRIM_THRESHOLD_', M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                              ('MALLOC_ARENA_MAX', M_ARENA_MAX, ARENA_MAX)):
        if env not in os.environ:
            ok = bool(mallopt(param, value)) and ok
    return ok
