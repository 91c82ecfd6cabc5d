"""The console's HTML (server-rendered; every value HTML-escaped).

A page is a list of tables whose cells are `Cell(text, key, state)`. A cell
with a key is live: the page's JSON endpoint serves {key: [text, state]} for
the same cells, and console.js puts each text (as text, never as HTML) into
the element carrying `data-live="<key>"` every few seconds, so the numbers
move without a reload. The tables come from console_model's figures, so what
the page shows at load and what the poll brings are made by the same code.
"""
import collections
import html
import time

from swiftlike.middleware import console_model as model

Cell = collections.namedtuple('Cell', 'text key state')
Table = collections.namedtuple('Table', 'caption headers rows')
PAGES = collections.OrderedDict([('overview', 'Overview'), ('ring', 'Ring'),
                                 ('nodes', 'Nodes & devices'), ('daemons', 'Daemons')])
NA = 'n/a'


def cell(text, key=None, state=None):
    return Cell(str(text), key, state)


def fmt(value, digits=0, suffix=''):
    if value is None:
        return NA
    if isinstance(value, float) and digits:
        return '%.*f%s' % (digits, value, suffix)
    if isinstance(value, float):
        return '%d%s' % (round(value), suffix)
    return '%s%s' % (value, suffix)


def fmt_bytes(value):
    if value is None:
        return NA
    value = float(value)
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if abs(value) < 1024 or unit == 'TiB':
            return ('%d %s' if unit == 'B' else '%.1f %s') % (value, unit)
        value /= 1024


def fmt_age(timestamp, now):
    if timestamp is None:
        return NA
    age = max(0, now - timestamp)
    if age < 120:
        return '%ds ago' % age
    if age < 7200:
        return '%dm ago' % (age // 60)
    return '%.1fh ago' % (age / 3600)


def yes_no(value, bad_when):
    if value is None:
        return cell(NA)
    return Cell('yes' if value else 'no', None, 'bad' if value == bad_when else 'ok')


# -- the pages as tables ----------------------------------------------------------------

def overview_tables(snap, proxy):
    o = model.overview(snap, proxy)
    k = 'ov.'
    rows = [
        ('Storage servers up', cell('%d / %d' % (o['servers_up'], o['servers_total']),
                                    k + 'servers', 'bad' if o['servers_down'] else 'ok')),
        ('Storage servers down', cell(o['servers_down'], k + 'down',
                                      'bad' if o['servers_down'] else 'ok')),
        ('Object devices', cell(o['devices_total'], k + 'devices')),
        ('Unmounted devices', cell(o['devices_unmounted'], k + 'unmounted',
                                   'bad' if o['devices_unmounted'] else 'ok')),
        ('Error-limited nodes (this proxy worker)',
         cell(o['error_limited'], k + 'limited', 'bad' if o['error_limited'] else 'ok')),
        ('Slow nodes (this proxy worker)',
         cell(o['slow'], k + 'slow', 'bad' if o['slow'] else 'ok')),
        ('Capacity', cell(fmt_bytes(o['size']), k + 'size')),
        ('Used', cell(fmt_bytes(o['used']), k + 'used')),
        ('Fill', cell(fmt(o['fill'], 1, '%'), k + 'fill')),
        ('Async pendings', cell(fmt(o['async_pending']), k + 'async')),
        ('Quarantined', cell(fmt(o['quarantined']), k + 'quarantined')),
    ]
    tables = [Table('Cluster', ('', ''), [[cell(name), value] for name, value in rows])]
    tables.append(client_table(proxy.get('requests')))
    tables.append(backend_table(model.backend_rows(proxy)))
    return tables


def client_table(requests):
    headers = ('Request', 'Count', 'Per second', '5xx', 'mean ms', 'p50 ms', 'p99 ms')
    caption = 'Client requests through this proxy (every worker)'
    if not requests:
        note = ('no figures: the metrics middleware is not in the pipeline'
                if requests is None else 'no client request yet')
        return Table(caption, headers, [[cell(note, 'rq.none')] + [cell('')] * 6])
    rows = []
    for name, fig in sorted(requests.items()):
        k = 'rq.%s.' % name.replace(' ', '.')
        rows.append([cell(name), cell(fig['count'], k + 'count'),
                     cell(fmt(fig.get('rate'), 2), k + 'rate'),
                     cell(fig['errors'], k + 'errors', 'bad' if fig['errors'] else None),
                     cell(fmt(fig['mean_ms'], 1), k + 'mean'),
                     cell(fmt(fig['p50_ms'], 1), k + 'p50'),
                     cell(fmt(fig['p99_ms'], 1), k + 'p99')])
    return Table(caption, headers, rows)


def backend_table(rows):
    headers = ('Node', 'Requests', 'Per second', 'Errors', 'p50 ms', 'p99 ms', 'Slow',
               'Error-limited')
    caption = 'Backend requests of this proxy worker, by node'
    if not rows:
        return Table(caption, headers, [[cell('no backend request yet', 'be.none')]
                                        + [cell('')] * 7])
    out = []
    for row in rows:
        k = 'be.%s.' % row['node']
        out.append([cell(row['node']), cell(row['count'], k + 'count'),
                    cell(fmt(row['rate'], 2), k + 'rate'),
                    cell(row['errors'], k + 'errors', 'bad' if row['errors'] else None),
                    cell(fmt(row['p50'], 1), k + 'p50'), cell(fmt(row['p99'], 1), k + 'p99'),
                    _keyed(yes_no(row['slow'], True), k + 'slow'),
                    _keyed(yes_no(row['error_limited'], True), k + 'limited')])
    return Table(caption, headers, out)


def ring_tables(snap, proxy):
    devices = {(d['ring'], d['server'], d['device']): d for d in model.device_rows(snap, proxy)}
    tables = []
    for view in snap['rings']:
        name = view['name']
        if 'error' in view:
            tables.append(Table('Ring %s' % name, ('error',), [[cell(view['error'])]]))
            continue
        summary = [('Partition power', view['part_power']), ('Partitions', view['partitions']),
                   ('Replicas', view['replicas']), ('Regions', view['regions']),
                   ('Zones', view['zones']), ('Servers', view['servers']),
                   ('Devices', len(view['devices'])), ('Total weight', fmt(view['weight'], 2)),
                   ('Max balance', fmt(view['max_balance'], 2, '%'))]
        tables.append(Table('Ring %s' % name, ('', ''),
                            [[cell(a), cell(b, 'ring.%s.%s' % (name, a.lower().replace(' ', '_')))]
                             for a, b in summary]))
        rows = []
        for dev in view['devices']:
            server = '%s:%d' % (dev['ip'], dev['port'])
            row = devices.get((name, server, dev['device']), {})
            k = 'dev.%s.%s.%s.' % (name, server, dev['device'])
            rows.append([cell(dev['id']), cell(dev['region']), cell(dev['zone']), cell(server),
                         cell(dev['device']), cell(fmt(dev['weight'], 2)),
                         cell(dev['partitions'], k + 'parts'),
                         cell(fmt(dev['balance'], 2, '%'), k + 'balance'),
                         cell(fmt(row.get('fill'), 1, '%'), k + 'fill')])
        tables.append(Table('Ring %s: devices' % name,
                            ('id', 'region', 'zone', 'server', 'device', 'weight',
                             'partitions', 'balance', 'fill'), rows))
    return tables


def nodes_tables(snap, proxy):
    rows = []
    for node in model.node_rows(snap, proxy):
        k = 'node.%s.' % node['server']
        rows.append([cell(node['server']), cell(', '.join(node['rings'])),
                     Cell('up' if node['up'] else 'down', k + 'state',
                          'ok' if node['up'] else 'bad'),
                     cell(fmt(node['probe_ms'], 1) if node['up'] else NA, k + 'probe'),
                     cell(fmt(node['load1'], 2), k + 'load'),
                     cell(fmt(node['steal'], 1, '%'), k + 'steal')])
    tables = [Table('Storage servers', ('server', 'rings', 'state', 'probe ms', 'load 1m',
                                        'CPU steal'), rows)]
    rows = []
    for dev in model.device_rows(snap, proxy):
        k = 'dev.%s.%s.%s.' % (dev['ring'], dev['server'], dev['device'])
        io = dev['io']
        used = NA if dev['used'] is None else '%s / %s' % (fmt_bytes(dev['used']),
                                                            fmt_bytes(dev['size']))
        slow = dev['slow']
        rows.append([cell(dev['ring']), cell(dev['server']), cell(dev['device']),
                     Cell('up' if dev['up'] else 'down', k + 'up', 'ok' if dev['up'] else 'bad'),
                     _keyed(yes_no(dev['mounted'], False), k + 'mounted'),
                     cell(fmt(dev['fill'], 1, '%'), k + 'fill'), cell(used, k + 'used'),
                     cell(dev['errors'], k + 'errors'),
                     _keyed(yes_no(dev['error_limited'], True), k + 'limited'),
                     cell(NA if slow is None else ('yes' if slow else 'no'), k + 'slow',
                          'bad' if slow else None),
                     cell(fmt(dev['p50'] and 1000 * dev['p50'], 1), k + 'p50'),
                     cell(fmt(dev['p99'] and 1000 * dev['p99'], 1), k + 'p99'),
                     cell(fmt(io.get('reads_per_s'), 1), k + 'r_s'),
                     cell(fmt(io.get('writes_per_s'), 1), k + 'w_s'),
                     cell(fmt(_add(io.get('read_mb_per_s'), io.get('write_mb_per_s')), 2),
                          k + 'mb_s'),
                     cell(fmt(io.get('await_ms'), 1), k + 'await'),
                     cell(fmt(io.get('util_pct'), 1, '%'), k + 'util')])
    tables.append(Table('Devices', ('ring', 'server', 'device', 'server state', 'mounted',
                                    'fill', 'used / size', 'errors', 'error-limited', 'slow',
                                    'p50 ms', 'p99 ms', 'r/s', 'w/s', 'MB/s', 'await ms',
                                    'util'), rows))
    return tables


def _add(a, b):
    return None if a is None and b is None else (a or 0) + (b or 0)


def _keyed(c, key):
    return Cell(c.text, key, c.state)


def daemons_tables(snap, proxy):
    now = time.time()
    rows, obj_rows = [], []
    for row in model.daemon_rows(snap):
        k = 'dmn.%s.%s.' % (row['kind'], row['server'])
        rows.append([cell(row['server']), cell(row['kind']),
                     cell(fmt_age(row['replication_last'], now), k + 'last'),
                     cell(fmt(row['replication_time'], 2), k + 'time'),
                     cell(fmt(row['attempted']), k + 'attempted'),
                     cell(fmt(row['success']), k + 'success'),
                     cell(fmt(row['failure']), k + 'failure',
                          'bad' if row['failure'] else None)])
        if row['kind'] == 'object':
            obj_rows.append([cell(row['server']),
                             cell(fmt(row['async_pending']), k + 'async'),
                             cell(fmt(row['audit_passes']), k + 'audit_passes'),
                             cell(fmt(row['audit_errors']), k + 'audit_errors'),
                             cell(fmt(row['audit_quarantined']), k + 'audit_quarantined'),
                             cell(fmt(row['quarantined_objects']), k + 'q_objects'),
                             cell(fmt(row['quarantined_containers']), k + 'q_containers'),
                             cell(fmt(row['quarantined_accounts']), k + 'q_accounts')])
    return [Table('Replication', ('server', 'kind', 'last pass', 'pass minutes', 'attempted',
                                  'success', 'failure'), rows),
            Table('Objects: async pendings, auditor, quarantines',
                  ('server', 'async pendings', 'audit passed', 'audit errors',
                   'audit quarantined', 'quarantined objects', 'quarantined containers',
                   'quarantined accounts'), obj_rows)]


BUILDERS = {'overview': overview_tables, 'ring': ring_tables, 'nodes': nodes_tables,
            'daemons': daemons_tables}


def live_values(tables):
    """{key: [text, state]} of the live cells."""
    out = {}
    for table in tables:
        for row in table.rows:
            for c in row:
                if c.key:
                    out[c.key] = [c.text, c.state or '']
    return out


# -- HTML -------------------------------------------------------------------------------

def esc(text):
    return html.escape(str(text), quote=True)


def layout(title, body, page=None, poll=None):
    nav = ''.join('<a href="%s"%s>%s</a>' % (esc(_href(name)),
                                              ' class="here"' if name == page else '', esc(label))
                  for name, label in PAGES.items())
    poll_attr = ' data-poll="%s"' % esc(poll) if poll else ''
    logout = ('<form method="post" action="/console/logout" class="logout">'
              '<button type="submit">Log out</button></form>') if page else ''
    return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<title>%s - swiftlike console</title>'
            '<link rel="stylesheet" href="/console/static/console.css">'
            '<script src="/console/static/console.js" defer></script></head>'
            '<body%s><header><h1>swiftlike console</h1><nav>%s</nav>%s</header>'
            '<main><h2 id="title">%s</h2>%s</main>'
            '<footer>Read-only. <span id="updated"></span></footer></body></html>\n'
            % (esc(title), poll_attr, nav if page else '', logout, esc(title), body))


def _href(name):
    return '/console/' if name == 'overview' else '/console/' + name


def render_tables(tables):
    out = []
    for table in tables:
        out.append('<table><caption>%s</caption>' % esc(table.caption))
        if any(table.headers):
            out.append('<thead><tr>%s</tr></thead>' % ''.join(
                '<th>%s</th>' % esc(h) for h in table.headers))
        out.append('<tbody>')
        for row in table.rows:
            out.append('<tr>%s</tr>' % ''.join(_td(c) for c in row))
        out.append('</tbody></table>')
    return ''.join(out)


def _td(c):
    attrs = ''
    if c.key:
        attrs += ' data-live="%s"' % esc(c.key)
    if c.state:
        attrs += ' class="st-%s"' % esc(c.state)
    return '<td%s>%s</td>' % (attrs, esc(c.text))


def page_html(page, tables):
    return layout(PAGES[page], render_tables(tables), page, '/console/api/' + page)


def login_html(message='', status_class='', auth_url='/auth/v1.0'):
    msg = '<p id="message" class="st-%s">%s</p>' % (esc(status_class), esc(message)) \
        if message else '<p id="message"></p>'
    body = ('%s<form id="login" method="post" action="/console/login" data-auth="%s">'
            '<p>Sign in as a reseller admin: user and key (the page gets a token from '
            '<code>%s</code>), or paste a token.</p>'
            '<label>User <input id="user" name="user" autocomplete="username"></label>'
            '<label>Key <input id="key" name="key" type="password" '
            'autocomplete="current-password"></label>'
            '<label>Token <input id="token" name="token" autocomplete="off"></label>'
            '<button id="signin" type="submit">Sign in</button></form>'
            % (msg, esc(auth_url), esc(auth_url)))
    return layout('Sign in', body)


def message_html(title, message):
    return layout(title, '<p id="message">%s</p><p><a href="/console/login">Sign in</a></p>'
                  % esc(message))
