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
    assert malloc_tuning.tune_malloc()
    assert calls == [(malloc_tuning.M_MMAP_THRESHOLD, 256 * 1024),
                     (malloc_tuning.M_TRIM_THRESHOLD, 4 << 20)]
    calls.clear()
    monkeypatch.setenv('MALLOC_TRIM_THRESHOLD_', '1048576')
    assert malloc_tuning.tune_malloc()
    assert calls == [(malloc_tuning.M_MMAP_THRESHOLD, 256 * 1024)]
