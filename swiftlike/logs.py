"""Logging with the transaction id on every line.

The txn id lives in a contextvar (greenlets each get their own context), set by
whoever starts handling a request.
"""
import contextvars
import logging
import sys
import time
import uuid

txn_id_var = contextvars.ContextVar('txn_id', default='-')


class _TxnFilter(logging.Filter):
    def filter(self, record):
        record.txn_id = txn_id_var.get()
        return True


class _Formatter(logging.Formatter):
    """'%(asctime)s' as logging.Formatter writes it, the seconds part made once
    per second instead of once per line."""

    _cached = (None, '')   # (second, its text), replaced as one

    def formatTime(self, record, datefmt=None):
        second = int(record.created)
        cached_second, text = self._cached
        if second != cached_second:
            text = time.strftime('%Y-%m-%d %H:%M:%S', self.converter(second))
            self._cached = (second, text)
        return '%s,%03d' % (text, record.msecs)


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
        handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter(
            '%(asctime)s %(name)s %(levelname)s %(txn_id)s: %(message)s'))
        handler.addFilter(_TxnFilter())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    return logger
