"""`GET <container>?versions`: the user container's listing and its hidden
versions container's listing merged into one (pure; the pages are fetched by
callables the middleware passes in).

Order: by object name (reverse: descending); within a name the null version
(a plain object in the user container) first, then the versions newest first
(reverse: the other way round). Each entry sorts by a key: `name\\x00` for a
null version, the hidden name `name\\x00<inverted time>` for a version, the
subdir itself for a subdir; a (marker, version_marker) pair is a position in
that order, which is why both listings can be asked from a marker each.

is_latest: the version a pointer in the user container names; the null
version; or, for a name with no object in the user container, its newest
version when that is a delete marker.
"""
import dataclasses

from swiftlike.middleware import versioning_core as core


@dataclasses.dataclass
class VersionsParams:
    prefix: str = ''
    delimiter: str = ''
    marker: str = ''
    version_marker: str = None     # None, NULL_VERSION or a version id
    end_marker: str = ''
    limit: int = 10000
    reverse: bool = False

    @property
    def server_delimiter(self):
        """The delimiter the container servers may apply to both listings
        (hidden names end in NUL and digits, so one holding a digit cannot)."""
        d = self.delimiter
        if d and not any(ch.isdigit() for ch in d) and core.SEPARATOR not in d:
            return d
        return ''


def source_queries(params):
    """(user listing query, hidden listing query) as {name: value} without
    limit; markers chosen so each starts right after the (marker,
    version_marker) position."""
    user = {'format': 'json'}
    hidden = {'format': 'json'}
    if params.prefix:
        user['prefix'] = hidden['prefix'] = params.prefix
    if params.server_delimiter:
        user['delimiter'] = hidden['delimiter'] = params.server_delimiter
    if params.reverse:
        user['reverse'] = hidden['reverse'] = 'true'
    m, vm = params.marker, params.version_marker
    if m:
        if not params.reverse:
            user['marker'] = m
            hidden['marker'] = core.after_all_versions(m) if vm is None \
                else core.versions_marker(m, vm)
        else:
            if vm is None:
                user['marker'] = hidden['marker'] = m
            elif vm == core.NULL_VERSION:
                user['marker'] = m
                hidden['marker'] = m + core.SEPARATOR
            else:
                user['marker'] = m + core.SEPARATOR
                hidden['marker'] = core.version_name(m, vm)
    e = params.end_marker
    if e:
        user['end_marker'] = e
        hidden['end_marker'] = e + '\x01' if params.reverse else e
    return user, hidden


def pages(fetch, query, page_size):
    """Entries of a listing, page after page: fetch(query) -> list of dicts
    (a short page ends it)."""
    query = dict(query, limit=str(page_size))
    while True:
        page = fetch(query)
        for entry in page:
            yield entry
        if len(page) < page_size:
            return
        last = page[-1]
        query = dict(query, marker=last.get('name', last.get('subdir')))


class _Peek:
    def __init__(self, iterable):
        self._it = iter(iterable)
        self._head = None
        self._has = False

    def peek(self):
        if not self._has:
            try:
                self._head = next(self._it)
                self._has = True
            except StopIteration:
                return None
        return self._head

    def pop(self):
        head = self.peek()
        self._has = False
        return head


def _user_entry(row):
    if 'subdir' in row:
        return {'key': row['subdir'], 'subdir': row['subdir']}
    row = dict(row)
    pointer = core.clean_listing_row(row)
    return {'key': row['name'] + core.SEPARATOR, 'name': row['name'], 'row': row,
            'pointer': pointer}


def _hidden_entry(row):
    if 'subdir' in row:
        return {'key': row['subdir'], 'subdir': row['subdir']}
    split = core.split_version_name(row.get('name', ''))
    if split is None:
        return None
    name, version = split
    return {'key': row['name'], 'name': name, 'row': row, 'version': version}


def _entries(source, convert):
    for row in source:
        entry = convert(row)
        if entry is not None:
            yield entry


def merge_versions(user_rows, hidden_rows, params):
    """The `?versions` listing entries (dicts as the client gets them)."""
    users = _Peek(_entries(user_rows, _user_entry))
    hidden = _Peek(_entries(hidden_rows, _hidden_entry))
    before = (lambda a, b: a > b) if params.reverse else (lambda a, b: a < b)
    out = []
    last_subdir = None
    # Forward: what the user container holds for the name being listed.
    current = {'name': None, 'user': False, 'pointer': None, 'seen_version': False}
    started_inside = params.version_marker is not None and not params.reverse
    while len(out) < params.limit:
        u, h = users.peek(), hidden.peek()
        if u is None and h is None:
            break
        if h is None or (u is not None and (before(u['key'], h['key']) or
                                            u['key'] == h['key'])):
            entry = users.pop()
            if u is not None and h is not None and u['key'] == h['key']:
                hidden.pop()    # the same subdir from both listings
            from_hidden = False
        else:
            entry = hidden.pop()
            from_hidden = True
        subdir = entry.get('subdir')
        if subdir is None and params.delimiter and not params.server_delimiter:
            cut = entry['name'].find(params.delimiter, len(params.prefix))
            if cut >= 0:
                subdir = entry['name'][:cut + len(params.delimiter)]
        if subdir is not None:
            if subdir != last_subdir and subdir != params.marker:
                out.append({'subdir': subdir})
                last_subdir = subdir
            continue
        name = entry['name']
        if not from_hidden:
            if not params.reverse:
                current = {'name': name, 'user': True, 'pointer': entry['pointer'],
                           'seen_version': False}
            if entry['pointer'] is None:
                out.append(dict(entry['row'], version_id=core.NULL_VERSION, is_latest=True))
            continue
        row = entry['row']
        version = entry['version']
        if params.reverse:
            nxt = users.peek()
            has_user = nxt is not None and nxt.get('name') == name
            pointer = nxt['pointer'] if has_user else None
            following = hidden.peek()
            newest = following is None or following.get('name') != name
        else:
            if current['name'] != name:
                current = {'name': name, 'user': False, 'pointer': None,
                           'seen_version': started_inside and name == params.marker}
            has_user, pointer = current['user'], current['pointer']
            newest = not current['seen_version']
            current['seen_version'] = True
        if has_user:
            latest = pointer == version
        else:
            latest = newest and core.is_delete_marker(row.get('content_type'))
        item = {'name': name}
        for key in ('bytes', 'hash', 'content_type', 'last_modified'):
            if key in row:
                item[key] = row[key]
        item['version_id'] = version
        item['is_latest'] = latest
        out.append(item)
    return out
