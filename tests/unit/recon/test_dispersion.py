"""Dispersion's pure parts, by tables."""
import pytest

from swiftlike import dispersion


@pytest.mark.parametrize('parts,coverage,expected', [
    (1024, 1.0, 10), (1024, 100, 1024), (262144, 1.0, 2621), (64, 1.0, 1), (64, 50, 32),
])
def test_wanted_count(parts, coverage, expected):
    assert dispersion.wanted_count(parts, coverage) == expected


def test_choose_names_skips_taken_partitions():
    parts = {'dispersion_0': 3, 'dispersion_1': 3, 'dispersion_2': 1, 'dispersion_3': 0,
             'dispersion_4': 2, 'dispersion_5': 2, 'dispersion_6': 7}
    assert dispersion.choose_names(parts.get, 8, 3) == [
        ('dispersion_0', 3), ('dispersion_2', 1), ('dispersion_3', 0)]
    assert dispersion.choose_names(parts.get, 8, 2, start=1, taken={3}) == [
        ('dispersion_2', 1), ('dispersion_3', 0)]
    # Not enough distinct partitions among the names tried: as many as there are.
    assert dispersion.choose_names(lambda n: 5, 8, 4, max_tries=50) == [('dispersion_0', 5)]


def test_tally_and_report_text():
    results = [('dispersion_0', 1, 3), ('dispersion_1', 2, 2), ('dispersion_2', 2, 0),
               ('dispersion_3', 4, 1)]
    figures = dispersion.tally(results, 3, 16, retries=7)
    assert figures == {'retries:': 7, 'copies_expected': 12, 'copies_found': 6,
                       'pct_found': 50.0, 'overlapping': 1, 'queried': 4,
                       'partition_pct': 18.75, 'missing_one': 1, 'missing_two': 1,
                       'missing_all': 1}
    assert dispersion.render_lines('object', figures, 3, 2.4) == [
        'Queried 4 objects for dispersion reporting, 2s, 7 retries',
        'There was 1 partition missing one copy.',
        'There was 1 partition missing two copies.',
        'There was 1 partition missing all copies.',
        '50.00% of object copies found (6 of 12)',
        'Sample represents 18.75% of the object partition space']
    healthy = dispersion.tally([('dispersion_0', 0, 2), ('dispersion_1', 1, 2)], 2, 4)
    assert healthy['missing_one'] == 0 and healthy['missing_all'] == 0
    assert dispersion.render_lines('container', healthy, 2, 0)[1:] == [
        '100.00% of container copies found (4 of 4)',
        'Sample represents 50.00% of the container partition space']
    assert dispersion.tally([], 3, 16)['pct_found'] == 0.0


def test_conf_validation():
    from swiftlike.config import build
    from swiftlike.exceptions import ConfigError
    assert build(dispersion.DispersionConf, {'dispersion_coverage': '2.5'}).retries == 5
    for bad in ({'dispersion_coverage': '0'}, {'dispersion_coverage': '101'},
                {'retries': '0'}, {'concurrency': '0'}):
        with pytest.raises(ConfigError):
            build(dispersion.DispersionConf, bad)


def test_sample_config_lists_every_key_and_loads():
    import dataclasses
    import os
    from swiftlike.config import load_section
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'etc', 'dispersion.conf')
    text = open(path).read()
    missing = [f.name for f in dataclasses.fields(dispersion.DispersionConf)
               if '# %s =' % f.name not in text]
    assert missing == []
    assert load_section(path, 'dispersion', dispersion.DispersionConf) == \
        dispersion.DispersionConf()
