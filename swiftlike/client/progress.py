"""A one-line progress bar for long uploads and downloads, drawn on a terminal only.

Thread-safe: worker threads call add()/item_done(); redraws are throttled to ten a second. log() prints a line
above the bar without tearing it. When disabled (stderr is not a terminal, or --quiet) every call is a no-op
except log(), which just prints.
"""
import shutil
import sys
import threading
import time

REDRAW_INTERVAL = 0.1


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
    def __init__(self, label, total_bytes=None, total_items=None, stream=None, enabled=True, out=None,
                 clock=time.monotonic):
        self.label = label
        self.total_bytes = total_bytes
        self.total_items = total_items
        self.stream = stream if stream is not None else sys.stderr
        self.out = out if out is not None else sys.stdout
        self.enabled = enabled
        self.clock = clock
        self.done_bytes = 0
        self.done_items = 0
        self.started = clock()
        self._last_draw = 0.0
        self._drawn = False
        self._lock = threading.Lock()

    def add(self, nbytes):
        with self._lock:
            self.done_bytes += nbytes
            self._maybe_draw()

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

    def render(self, width):
        """The bar text for a terminal `width` columns wide (pure: for tests)."""
        elapsed = max(self.clock() - self.started, 1e-6)
        rate = self.done_bytes / elapsed
        parts = []
        if self.total_bytes:
            frac = min(1.0, self.done_bytes / self.total_bytes)
            parts.append('%3d%%' % int(frac * 100))
            amount = '%s/%s' % (human_size(self.done_bytes), human_size(self.total_bytes))
            settled = elapsed >= 1.0          # the first moment's rate says little about the whole
            eta = (self.total_bytes - self.done_bytes) / rate if rate > 0 and settled else None
            tail = '%s  %s/s  ETA %s' % (amount, human_size(rate), format_eta(eta))
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

    def _maybe_draw(self):
        if not self.enabled:
            return
        now = self.clock()
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
