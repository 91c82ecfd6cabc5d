"""Logging with the transaction id on every line.

The txn id lives in a contextvar (greenlets each get their own context), set by
whoever starts handling a request; swiftlike.concurrency carries it into the
green threads and disk threads a request starts.

Lines are cheap because servers write one per request (the access logs): each
is one write(2) to a file opened for appending (or to stderr), so no lock is
needed between threads, green threads or forked workers sharing the file.
"""
import contextvars
import logging
import os
import time
import uuid

txn_id_var = contextvars.ContextVar('txn_id', default='-')


class _TxnFilter(logging.Filter):
    def filter(self, record):
        record.txn_id = txn_id_var.get()
        return True


LINE_FORMAT = '%(asctime)s %(name)s %(levelname)s %(txn_id)s: %(message)s'


class _Formatter(logging.Formatter):
    """'%(asctime)s' as logging.Formatter writes it, the seconds part made once
    per second instead of once per line."""

    _cached = (None, '')   # (second, its text), replaced as one

    def formatTime(self, record, datefmt=None):
        return self.time_text(record.created, record.msecs)

    def time_text(self, created, msecs):
        second = int(created)
        cached_second, text = self._cached
        if second != cached_second:
            text = time.strftime('%Y-%m-%d %H:%M:%S', self.converter(second))
            self._cached = (second, text)
        return '%s,%03d' % (text, msecs)


class _LineHandler(logging.Handler):
    """Each record is one write(2) of one line (see the module's docstring)."""

    def __init__(self, log_file=None):
        super().__init__()
        self.fd = (os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                   if log_file else None)

    def handle(self, record):
        # logging.Handler.handle without its lock: emit() needs none.
        if self.filter(record):
            self.emit(record)
            return True
        return False

    def emit(self, record):
        try:
            self.write((self.format(record) + '\n').encode('utf-8', 'backslashreplace'))
        except Exception:
            self.handleError(record)

    def write(self, data):
        fd = 2 if self.fd is None else self.fd
        while data:
            data = data[os.write(fd, data):]

    def plain(self):
        """True while this handler writes lines exactly as get_logger set
        it up (its formatter, the txn filter alone, every level), so a line
        can be made without a LogRecord."""
        formatter = self.formatter
        return (type(formatter) is _Formatter and formatter._fmt == LINE_FORMAT
                and self.level == logging.NOTSET and len(self.filters) == 1
                and type(self.filters[0]) is _TxnFilter)

    def close(self):
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)
        super().close()


def log_line(logger, level, msg, *args):
    """logger.log(level, msg, *args) for a line made on every request: the
    same line, without looking up the caller's source line (no line shows
    it). A logger that get_logger set up and nobody changed since has its
    line written straight away, without a LogRecord (a third of the cost)."""
    if not logger.isEnabledFor(level):
        return
    handlers = logger.handlers
    if (len(handlers) == 1 and type(handlers[0]) is _LineHandler and not logger.filters
            and not logger.propagate and not logger.disabled and handlers[0].plain()):
        handler = handlers[0]
        try:
            now = time.time_ns()
            line = '%s %s %s %s: %s\n' % (
                handler.formatter.time_text(now / 1e9, (now % 1_000_000_000) // 1_000_000),
                logger.name, logging.getLevelName(level), txn_id_var.get(),
                msg % args if args else msg)
        except Exception:  # noqa: BLE001 - the record's way reports it as logging does
            pass
        else:
            try:
                handler.write(line.encode('utf-8', 'backslashreplace'))
            except Exception:  # noqa: BLE001 - as emit() reports it
                handler.handleError(logger.makeRecord(logger.name, level, '(unknown file)', 0,
                                                      msg, args, None))
            return
    logger.handle(logger.makeRecord(logger.name, level, '(unknown file)', 0, msg, args, None))


def new_txn_id(suffix=''):
    return 'tx%s%s' % (uuid.uuid4().hex[:21], suffix)


def set_txn_id(txn_id):
    txn_id_var.set(txn_id or '-')


def get_logger(name, level='INFO', log_file=None):
    """A logger writing 'time name level txn message' to stderr or a file."""
    # Our lines name no thread or process: records need not look them up (the
    # logging HOWTO's "Optimization"; a storage server logs every request).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logger = logging.getLogger('swiftlike.' + name)
    if not logger.handlers:
        handler = _LineHandler(log_file or None)
        handler.setFormatter(_Formatter(LINE_FORMAT))
        handler.addFilter(_TxnFilter())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    return logger
