"""glibc malloc settings for long-running processes that move megabyte buffers.

Left alone, glibc (1) serves big buffers from mmap only until the first is
freed, then keeps them in each thread's arena, so a server holds on to ~1 MiB
per disk thread after one big GET; and (2) gives the top of the heap back
whenever 128 KiB of it is free, so a PUT's megabyte of network chunks is
returned and faulted in again for every batch (half the kernel CPU of a big
PUT). A fixed mmap threshold and a 4 MiB trim threshold fix both. The
MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ environment variables, when
set, win.
"""
import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 1024
TRIM_THRESHOLD = 4 * 1024 * 1024


def tune_malloc():
    """Apply the settings above; True when glibc took them (False elsewhere)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6').mallopt
    except (OSError, AttributeError):
        return False
    ok = True
    for env, param, value in (('MALLOC_MMAP_THRESHOLD_', M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                              ('MALLOC_TRIM_THRESHOLD_', M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        if env not in os.environ:
            ok = bool(mallopt(param, value)) and ok
    return ok
