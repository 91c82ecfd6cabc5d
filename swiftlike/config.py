"""Reads INI config files into typed, validated dataclasses.

A section's dataclass lists every key it accepts with its type and default.
Values come from the section, else from [DEFAULT], else the default. A key set
in the section that the dataclass does not know, or a value that does not
parse, fails with a message naming file, section and key. [DEFAULT] may hold
keys for other sections, so unknown keys there are not errors.
"""
import configparser
import dataclasses
import typing

from swiftlike.exceptions import ConfigError

TRUE_VALUES = {'true', '1', 'yes', 'on', 't', 'y'}
FALSE_VALUES = {'false', '0', 'no', 'off', 'f', 'n', ''}


def is_true(value):
    """The one reading of a boolean request header or query parameter, as
    Swift's: one of TRUE_VALUES (any case) is true, anything else (absent,
    empty, garbage) is false."""
    return value is not None and str(value).strip().lower() in TRUE_VALUES


def parse_bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_VALUES:
        return True
    if text in FALSE_VALUES:
        return False
    raise ValueError('not a boolean: %r' % value)


def parse_list(value):
    if isinstance(value, (list, tuple)):
        return list(value)
    return [item.strip() for item in str(value).replace(',', ' ').split() if item.strip()]


def _convert(kind, value):
    if kind is bool:
        return parse_bool(value)
    if kind is int:
        return int(str(value).strip())
    if kind is float:
        return float(str(value).strip())
    if kind in (list, typing.List[str]):
        return parse_list(value)
    return str(value)


def read_ini(path):
    """Return {section: {key: value}} including 'DEFAULT'; raise ConfigError."""
    parser = configparser.RawConfigParser(default_section='\0none', strict=False,
                                          interpolation=None)
    try:
        with open(path, encoding='utf-8') as f:
            parser.read_file(f)
    except (OSError, UnicodeDecodeError, configparser.Error) as err:
        raise ConfigError('%s: cannot read config: %s' % (path, err))
    return {name: dict(parser.items(name)) for name in parser.sections()}


def ini_text(sections):
    """[(section, {key: value})] -> INI text, in the given order (what
    read_ini reads back)."""
    out = []
    for name, values in sections:
        out.append('[%s]' % name)
        out.extend('%s = %s' % (k, v) for k, v in values.items())
        out.append('')
    return '\n'.join(out)


def build(cls, values, source='<dict>', section='DEFAULT', defaults=None):
    """Make a `cls` dataclass from a {key: str} mapping (and [DEFAULT])."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError('%s [%s]: unknown key %r' % (source, section, unknown[0]))
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name in known:
        if name in values:
            raw = values[name]
        elif defaults and name in defaults:
            raw = defaults[name]
        else:
            continue
        try:
            kwargs[name] = _convert(hints.get(name, str), raw)
        except (TypeError, ValueError):
            raise ConfigError('%s [%s]: invalid value for %r: %r' % (source, section, name, raw))
    obj = cls(**kwargs)
    for check in (getattr(obj, 'validate', None), getattr(obj, 'validate_statsd', None),
                  getattr(obj, 'validate_wsgi', None)):
        if check:
            try:
                check()
            except ValueError as err:
                raise ConfigError('%s [%s]: %s' % (source, section, err))
    return obj


def load_section(path, section, cls, required=True):
    """Read `section` of the INI file at `path` into a `cls` dataclass."""
    sections = read_ini(path)
    if section not in sections:
        if required:
            raise ConfigError('%s: missing section [%s]' % (path, section))
        return build(cls, {}, path, section, sections.get('DEFAULT'))
    return build(cls, sections[section], path, section, sections.get('DEFAULT'))
