"""The transaction id follows a request into the green threads and disk
threads it starts (swiftlike.concurrency copies the context), so their log
lines carry it; what a worker sets stays its own."""
import logging

from swiftlike import concurrency
from swiftlike.logs import get_logger, log_line, set_txn_id, txn_id_var


def _in_request(txn_id, func):
    """Run func in a fresh green thread that set `txn_id`, as a server does."""
    def request():
        set_txn_id(txn_id)
        return func()
    return concurrency.spawn(request).wait()


def test_spawn_and_spawn_after_carry_the_txn_id():
    def check():
        return (concurrency.spawn(txn_id_var.get).wait(),
                concurrency.spawn_after(0, txn_id_var.get).wait())
    assert _in_request('tx1', check) == ('tx1', 'tx1')


def test_spawn_n_carries_the_txn_id():
    def check():
        seen = concurrency.Event()
        concurrency.spawn_n(lambda: seen.send(txn_id_var.get()))
        return seen.wait()
    assert _in_request('tx2', check) == 'tx2'


def test_green_pile_and_pool_carry_the_txn_id():
    def check():
        pile = concurrency.GreenPile(3)
        for _ in range(3):
            pile.spawn(txn_id_var.get)
        pool = concurrency.GreenPool(2)
        seen = []
        pool.spawn_n(lambda: seen.append(txn_id_var.get()))
        pool.waitall()
        return list(pile), seen, pool.spawn(txn_id_var.get).wait()
    assert _in_request('tx3', check) == (['tx3'] * 3, ['tx3'], 'tx3')


def test_pile_over_a_given_pool():
    def check():
        pile = concurrency.GreenPile(concurrency.GreenPool(2))
        pile.spawn(txn_id_var.get)
        return list(pile)
    assert _in_request('tx4', check) == ['tx4']


def test_disk_threads_carry_the_txn_id():
    disk = concurrency.DiskExecutor(2)
    assert _in_request('tx5', lambda: disk.run('sda', txn_id_var.get)) == 'tx5'


def test_a_worker_setting_its_own_txn_id_leaves_the_caller_alone():
    def check():
        def worker():
            set_txn_id('other')
            return txn_id_var.get()
        return concurrency.spawn(worker).wait(), txn_id_var.get()
    assert _in_request('tx6', check) == ('other', 'tx6')


def test_concurrent_requests_keep_their_own_ids():
    def request(txn_id):
        set_txn_id(txn_id)
        concurrency.sleep(0)
        pile = concurrency.GreenPile(2)
        pile.spawn(lambda: (concurrency.sleep(0), txn_id_var.get())[1])
        return list(pile)[0], txn_id_var.get()
    threads = [concurrency.spawn(request, 'tx-%d' % i) for i in range(5)]
    assert [t.wait() for t in threads] == [('tx-%d' % i, 'tx-%d' % i) for i in range(5)]


def test_warning_from_a_pile_worker_has_the_txn_id_in_its_line(tmp_path):
    log_file = str(tmp_path / 'test.log')
    logger = get_logger('test-txn-context', 'INFO', log_file)
    try:
        def check():
            pile = concurrency.GreenPile(1)
            pile.spawn(logger.warning, 'ERROR GET to %s failed', '127.0.0.1:1')
            list(pile)
        _in_request('txabc', check)
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    with open(log_file) as f:
        line = f.read()
    assert line.endswith(' swiftlike.test-txn-context WARNING txabc: ERROR GET to 127.0.0.1:1 failed\n')
    assert logging.getLogger('swiftlike.test-txn-context') is logger


def test_lines_are_whole_and_appended(tmp_path):
    log_file = str(tmp_path / 'test.log')
    with open(log_file, 'w') as f:
        f.write('earlier\n')
    logger = get_logger('test-txn-lines', 'DEBUG', log_file)
    try:
        set_txn_id('tx-lines')
        logger.info('caf\u00e9 %s', 'ok')
        log_line(logger, logging.DEBUG, 'quiet %d', 1)
        try:
            raise ValueError('boom')
        except ValueError:
            logger.exception('failed')
        logger.setLevel(logging.INFO)
        log_line(logger, logging.DEBUG, 'not written')
    finally:
        set_txn_id(None)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    with open(log_file, encoding='utf-8') as f:
        lines = f.read().splitlines()
    assert lines[0] == 'earlier'
    assert lines[1].endswith(' INFO tx-lines: caf\u00e9 ok')
    assert lines[2].endswith(' DEBUG tx-lines: quiet 1')
    assert lines[3].endswith(' ERROR tx-lines: failed')
    assert lines[4] == 'Traceback (most recent call last):'
    assert lines[-1] == 'ValueError: boom'
    assert not any('not written' in line for line in lines)


def test_line_time_reads_as_the_stock_formatter_writes_it():
    from swiftlike.logs import _Formatter
    fmt = '%(asctime)s %(message)s'
    ours, stock = _Formatter(fmt), logging.Formatter(fmt)
    for created in (1700000000.0, 1700000000.999, 1700000001.5, 1700000000.25):
        record = logging.LogRecord('x', logging.INFO, 'f', 1, 'hello', None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == stock.format(record)


def test_log_line_writes_what_the_record_would(tmp_path):
    """log_line's direct line is the one logging's record makes; a logger
    someone changed (another filter, formatter or handler) gets records."""
    log_file = str(tmp_path / 'direct.log')
    logger = get_logger('test-direct-line', 'INFO', log_file)
    handler = logger.handlers[0]
    seen = []

    class Seen(logging.Filter):
        def filter(self, record):
            seen.append(record.getMessage())
            return True
    try:
        set_txn_id('tx-direct')
        assert handler.plain()
        log_line(logger, logging.INFO, '%s %d %.4f "%s"', 'GET', 200, 0.25, 'caf\u00e9')
        logger.info('%s %d %.4f "%s"', 'GET', 200, 0.25, 'caf\u00e9')
        log_line(logger, logging.WARNING, 'no args %s')
        log_line(logger, logging.INFO, 'bad %d', 'not a number')   # logging's own report
        logger.disabled = True   # as logging.config leaves a logger it did not name
        log_line(logger, logging.INFO, 'disabled %s', 'logger')
        logger.disabled = False
        logger.addFilter(Seen())
        log_line(logger, logging.INFO, 'filtered %s', 'by the logger')
        logger.filters.clear()
        handler.addFilter(Seen())
        assert not handler.plain()
        log_line(logger, logging.INFO, 'filtered %s', 'by the handler')
    finally:
        set_txn_id(None)
        for h in list(logger.handlers):
            logger.removeHandler(h)
            h.close()
    with open(log_file, encoding='utf-8') as f:
        lines = f.read().splitlines()
    direct, by_record = lines[0].split(' ', 2), lines[1].split(' ', 2)
    assert direct[2] == by_record[2] == ('swiftlike.test-direct-line INFO tx-direct: '
                                         'GET 200 0.2500 "caf\u00e9"')
    for line in lines[:2]:   # '2026-12-07 00:46:37,206'
        assert len(line.split(' ')[0]) == 10 and len(line.split(' ')[1]) == 12
    assert lines[2].endswith(' WARNING tx-direct: no args %s')
    assert seen == ['filtered by the logger', 'filtered by the handler']
    assert lines[-2:] == [l for l in lines if 'filtered' in l]
    assert not any('not a number' in line or 'disabled' in line for line in lines)
