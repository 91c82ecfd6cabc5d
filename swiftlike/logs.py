"""Logging with the transaction id on every line.

The txn id lives in a contextvar (greenlets each get their own context), set by
whoever starts handling a request.
"""
import contextvars
import logging
import sys
import uuid

txn_id_var = contextvars.ContextVar('txn_id', default='-')


class _TxnFilter(logging.Filter):
    def filter(self, record):
        record.txn_id = txn_id_var.get()
        return True


def new_txn_id(suffix=''):
    return 'tx%s%s' % (uuid.uuid4().hex[:21], suffix)


def set_txn_id(txn_id):
    txn_id_var.set(txn_id or '-')


def get_logger(name, level='INFO', log_file=None):
    """A logger writing 'time name level txn message' to stderr or a file."""
    logger = logging.getLogger('swiftlike.' + name)
    if not logger.handlers:
        handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            '%(asctime)s %(name)s %(levelname)s %(txn_id)s: %(message)s'))
        handler.addFilter(_TxnFilter())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    return logger
