"""A one-line progress bar for long uploads and downloads, drawn on a terminal only.

Thread-safe: worker threads call add()/item_done(); redraws are throttled to ten a second. log() prints a line
above the bar without tearing it. When disabled (stderr is not a terminal, or --quiet) every call is a no-op
except log(), which just prints.
"""
import collections
import shutil
import sys
import threading
import time

REDRAW_INTERVAL = 0.1
RATE_WINDOW = 5.0           # seconds: the rate (and so the ETA) follows the recent pace, not the whole run's
SAMPLE_INTERVAL = 0.1


def human_size(num, binary=True):
    """1536 -> '1.5 KiB'; exact bytes below 1 KiB."""
    step = 1024.0 if binary else 1000.0
    units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] if binary else ['k', 'M', 'G', 'T', 'P']
    if num < step:
        return '%d B' % num
    for unit in units:
        num /= step
        if num < step or unit == units[-1]:
            return '%.1f %s' % (num, unit)


def format_eta(seconds):
    if seconds is None or seconds < 0 or seconds > 360000:
        return '--:--'
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return '%d:%02d:%02d' % (hours, minutes, secs) if hours else '%d:%02d' % (minutes, secs)


class Progress:
    """`total_bytes`: the bytes to move, if known. `unsized`: how many items' sizes are not known yet (a download
    of named objects learns each size from its response, through size_known()); the percentage is shown once
    every size is known."""

    def __init__(self, label, total_bytes=None, total_items=None, stream=None, enabled=True, out=None,
                 clock=time.monotonic, unsized=0):
        self.label = label
        self.total_bytes = total_bytes
        self.total_items = total_items
        self.unsized = unsized
        self.stream = stream if stream is not None else sys.stderr
        self.out = out if out is not None else sys.stdout
        self.enabled = enabled
        self.clock = clock
        self.done_bytes = 0
        self.done_items = 0
        self.started = clock()
        self._samples = collections.deque([(self.started, 0)])     # (time, done_bytes), for the recent rate
        self._last_draw = 0.0
        self._drawn = False
        self._lock = threading.Lock()

    def add(self, nbytes):
        with self._lock:
            self.done_bytes += nbytes
            now = self.clock()
            if now - self._samples[-1][0] >= SAMPLE_INTERVAL:
                self._samples.append((now, self.done_bytes))
                while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW:
                    self._samples.popleft()
            self._maybe_draw(now)

    def size_known(self, nbytes):
        """One item's size is now known (None: it cannot be, e.g. a chunked response without Content-Length)."""
        with self._lock:
            if nbytes is None:
                self.unsized = -1           # never all known: no percentage
                return
            self.total_bytes = (self.total_bytes or 0) + nbytes
            if self.unsized > 0:
                self.unsized -= 1

    def item_done(self):
        with self._lock:
            self.done_items += 1
            self._maybe_draw()

    def log(self, line, stream=None):
        stream = stream or self.out
        with self._lock:
            cleared = self._drawn and self._same_terminal(stream)
            if cleared:
                self._clear()
            stream.write(line + '\n')
            stream.flush()
            if cleared:
                self._draw()

    def close(self):
        with self._lock:
            if self.enabled and self._drawn:
                self._draw()
                self.stream.write('\n')
                self.stream.flush()
            self._drawn = False
            self.enabled = False

    def rate(self, now=None):
        """Bytes per second over the last RATE_WINDOW seconds (the whole run while it is shorter); never < 0."""
        now = self.clock() if now is None else now
        then, done_then = self._samples[0]
        if now - then <= 0:
            return 0.0
        return max(0.0, (self.done_bytes - done_then) / (now - then))

    def eta(self, rate):
        """Seconds left at `rate`, or None while there is no rate (nothing moved yet, or a stall)."""
        if not self.total_bytes or rate <= 0:
            return None
        return max(0, self.total_bytes - self.done_bytes) / rate

    def render(self, width):
        """The bar text for a terminal `width` columns wide (pure: for tests)."""
        rate = self.rate()
        parts = []
        if self.total_bytes and self.unsized == 0:
            frac = min(1.0, self.done_bytes / self.total_bytes)
            parts.append('%3d%%' % int(frac * 100))
            amount = '%s/%s' % (human_size(self.done_bytes), human_size(self.total_bytes))
            tail = '%s  %s/s  ETA %s' % (amount, human_size(rate), format_eta(self.eta(rate)))
        else:
            frac = None
            tail = '%s  %s/s' % (human_size(self.done_bytes), human_size(rate))
        if self.total_items and self.total_items > 1:
            tail += '  %d/%d' % (self.done_items, self.total_items)
        head = '%s %s' % (self.label, parts[0]) if parts else self.label
        room = width - len(head) - len(tail) - 5
        if frac is not None and room >= 10:
            bar_width = min(room, 40)
            filled = int(frac * bar_width)
            bar = '=' * filled + ('>' if filled < bar_width else '') + ' ' * (bar_width - filled - 1)
            text = '%s [%s] %s' % (head, bar[:bar_width], tail)
        else:
            text = '%s %s' % (head, tail)
        return text[:max(width - 1, 1)]

    def _maybe_draw(self, now=None):
        if not self.enabled:
            return
        now = self.clock() if now is None else now
        if now - self._last_draw >= REDRAW_INTERVAL:
            self._last_draw = now
            self._draw()

    def _draw(self):
        width = shutil.get_terminal_size((80, 24)).columns
        self.stream.write('\r\x1b[K' + self.render(width))
        self.stream.flush()
        self._drawn = True

    def _clear(self):
        self.stream.write('\r\x1b[K')
        self.stream.flush()

    def _same_terminal(self, stream):
        try:
            return stream.isatty() or stream is self.stream
        except (AttributeError, ValueError):
            return False
