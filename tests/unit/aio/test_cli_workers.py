"""swiftlike-aio's worker counts: every server serves in its own process unless asked."""
import pytest

from swiftlike.cli import aio as cli


@pytest.mark.parametrize('argv, proxy, storage', [
    ([], 0, 0),
    (['--workers', '2'], 2, 2),
    (['--workers', '0'], 0, 0),
    (['--storage-workers', '3'], 0, 3),
    (['--workers', '2', '--storage-workers', '1'], 2, 1),
])
def test_worker_defaults(tmp_path, argv, proxy, storage):
    args = cli.parser().parse_args(['--data-dir', str(tmp_path / 'aio')] + argv)
    cluster = cli.make_cluster(args)
    assert (cluster.workers, cluster.storage_workers) == (proxy, storage)


def test_negative_storage_workers_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.parser().parse_args(['--storage-workers', '-1'])
    assert 'storage-workers' in capsys.readouterr().err
