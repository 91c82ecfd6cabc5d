"""Servers set glibc's mmap and trim thresholds themselves, unless the
environment already does."""
import ctypes

from swiftlike import malloc_tuning


def test_glibc_takes_the_settings():
    assert malloc_tuning.tune_malloc() is True


def test_environment_wins(monkeypatch):
    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(ctypes, 'CDLL', lambda name: FakeLibc())
    monkeypatch.delenv('MALLOC_MMAP_THRESHOLD_', raising=False)
    monkeypatch.delenv('MALLOC_TRIM_THRESHOLD_', raising=False)
    monkeypatch.delenv('MALLOC_ARENA_MAX', raising=False)
    assert malloc_tuning.tune_malloc()
    assert calls == [(malloc_tuning.M_MMAP_THRESHOLD, 2 << 20),
                     (malloc_tuning.M_TRIM_THRESHOLD, 4 << 20),
                     (malloc_tuning.M_ARENA_MAX, 4)]
    calls.clear()
    monkeypatch.setenv('MALLOC_TRIM_THRESHOLD_', '1048576')
    monkeypatch.setenv('MALLOC_ARENA_MAX', '2')
    assert malloc_tuning.tune_malloc()
    assert calls == [(malloc_tuning.M_MMAP_THRESHOLD, 2 << 20)]


def test_a_whole_gets_disk_reads_come_from_the_heap():
    from swiftlike.obj.server import Conf
    assert Conf.disk_read_size + 64 < malloc_tuning.MMAP_THRESHOLD
