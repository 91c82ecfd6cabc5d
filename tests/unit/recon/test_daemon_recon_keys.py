"""The daemons write Swift's recon keys beside their own entries."""
import hashlib
import json
import os

from swiftlike.daemon import read_recon
from swiftlike.obj.auditor import AuditorConf, ObjectAuditor
from swiftlike.obj.diskfile import FsDiskFileManager
from swiftlike.obj.updater import ObjectUpdater, UpdaterConf


def _put(dev, name, body, ts='1700000001.00000'):
    df = FsDiskFileManager().get_diskfile(dev, 1, 'a', 'c', name)
    writer = df.create(len(body))
    writer.write(body)
    writer.commit({'X-Timestamp': ts, 'Content-Length': str(len(body)),
                   'ETag': hashlib.md5(body).hexdigest(), 'name': '/a/c/' + name})


def test_auditor_writes_object_auditor_stats_all(tmp_path):
    dev = tmp_path / 'sda'
    dev.mkdir()
    _put(str(dev), 'good', b'good bytes')
    _put(str(dev), 'bad', b'original')
    df_dir = [os.path.join(r, f) for r, _d, files in os.walk(dev) for f in files
              if f.endswith('.data')]
    bad = [p for p in df_dir if os.path.getsize(p) == len(b'original')][0]
    with open(bad, 'r+b') as f:
        f.write(b'O')
    auditor = ObjectAuditor(AuditorConf(devices=str(tmp_path), mount_check=False,
                                        files_per_second=0, bytes_per_second=0))
    auditor.run_once()
    recon = read_recon(str(tmp_path / '.recon' / 'object.recon'))
    stats = recon['object_auditor_stats_ALL']
    # Swift's passes: the files that passed (the corrupted one was quarantined)
    assert stats['passes'] == 1 and stats['quarantined'] == 1 and stats['errors'] == 0
    assert stats['bytes_processed'] == len(b'good bytes') + len(b'original')
    assert stats['audit_time'] >= 0 and stats['start_time'] == recon['object_auditor']['last_pass']


def test_updater_writes_async_pending_and_sweep(tmp_path):
    base = tmp_path / 'sda' / 'async_pending' / 'abc'
    base.mkdir(parents=True)
    for n in range(3):
        record = {'op': 'PUT', 'account': 'a', 'container': 'c', 'obj': 'o%d' % n,
                  'headers': {'X-Timestamp': '1700000001.00000'}, 'partition': 1,
                  'container_nodes': [['127.0.0.1:1', 'sdb']]}   # nothing listens on port 1
        with open(base / ('%029x' % n + 'abc-1700000001.00000'), 'w') as f:
            json.dump(record, f)
    updater = ObjectUpdater(UpdaterConf(devices=str(tmp_path), mount_check=False,
                                        files_per_second=0, swift_dir=str(tmp_path),
                                        conn_timeout=0.2))
    updater.run_once()
    recon = read_recon(str(tmp_path / '.recon' / 'object.recon'))
    assert recon['async_pending'] == 3
    assert recon['async_pending_last'] >= recon['object_updater']['last_pass']
    # pass_time is the same figure rounded to 4 places.
    assert abs(recon['object_updater_sweep'] - recon['object_updater']['pass_time']) < 0.001
