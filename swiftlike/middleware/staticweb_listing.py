"""Static web's HTML listing of a container or pseudo-directory (pure).

`render(title, prefix, items, css)` turns a container listing (JSON items,
one level: objects and `subdir` entries, as a delimiter=/ listing gives) into
an HTML page: a table of names (links relative to the page), sizes and dates,
with a `../` row below the top level. Every name and the title are escaped;
link targets are URL-quoted.
"""
import html
from urllib.parse import quote

_DEFAULT_STYLE = '''<style type="text/css">
   h1 {font-size: 1em; font-weight: bold;}
   th {text-align: left; padding: 0px 1em 0px 1em;}
   td {padding: 0px 1em 0px 1em;}
   a {text-decoration: none;}
  </style>'''


def css_link(css, prefix):
    """The <link> (or default style) for a listing `css` object name, made
    relative to the page of `prefix` ('' or 'a/b/'). URLs and absolute paths
    are used as they are."""
    if not css:
        return _DEFAULT_STYLE
    if '://' in css or css.startswith('/'):
        href = css
    else:
        href = '../' * prefix.count('/') + quote(css)
    return '<link rel="stylesheet" type="text/css" href="%s" />' % html.escape(href, quote=True)


def _size(value):
    try:
        size = int(value)
    except (TypeError, ValueError):
        return '&nbsp;'
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if size < 1024 or unit == 'TiB':
            return ('%d %s' % (size, unit)) if unit == 'B' else ('%.1f %s' % (size, unit))
        size /= 1024.0
    return '&nbsp;'  # not reached


def _classes(content_type):
    """CSS classes of an object row: 'item' and one per content-type part
    (type-text type-plain), so a style sheet can mark kinds of files."""
    base = (content_type or '').split(';', 1)[0].strip().lower()
    parts = [p for p in base.replace('+', '/').split('/') if p]
    return ' '.join(['item'] + ['type-' + ''.join(c if c.isalnum() else '-' for c in p)
                                for p in parts])


def render(title, prefix, items, css=None, link_query='', parent=None):
    """The page (str) for `items` under `prefix`; `link_query` ('?...') is
    added to every entry's link; the parent row shows below the top level
    (or as `parent` says)."""
    def esc(text, attr=False):
        return html.escape(text, quote=attr)
    rows = []
    if parent if parent is not None else prefix:
        rows.append('   <tr id="parent" class="item">\n'
                    '    <td class="colname"><a href="../">../</a></td>\n'
                    '    <td class="colsize">&nbsp;</td>\n'
                    '    <td class="coldate">&nbsp;</td>\n'
                    '   </tr>')
    for item in items:
        if 'subdir' in item:
            name = item['subdir'][len(prefix):]
            if not name:
                continue
            rows.append('   <tr class="item subdir">\n'
                        '    <td class="colname"><a href="./%s">%s</a></td>\n'
                        '    <td class="colsize">&nbsp;</td>\n'
                        '    <td class="coldate">&nbsp;</td>\n'
                        '   </tr>' % (esc(quote(name) + link_query, attr=True), esc(name)))
    for item in items:
        if 'subdir' in item:
            continue
        name = item.get('name', '')[len(prefix):]
        if not name:
            continue
        date = esc(str(item.get('last_modified', '')).replace('T', ' ').split('.')[0])
        rows.append('   <tr class="%s">\n'
                    '    <td class="colname"><a href="./%s">%s</a></td>\n'
                    '    <td class="colsize">%s</td>\n'
                    '    <td class="coldate">%s</td>\n'
                    '   </tr>' % (esc(_classes(item.get("content_type")), attr=True),
                                  esc(quote(name) + link_query, attr=True), esc(name),
                                  _size(item.get('bytes')), date or '&nbsp;'))
    return ('<!DOCTYPE html>\n'
            '<html>\n'
            ' <head>\n'
            '  <meta charset="UTF-8">\n'
            '  <title>Listing of %(title)s</title>\n'
            '  %(css)s\n'
            ' </head>\n'
            ' <body>\n'
            '  <h1 id="title">Listing of %(title)s</h1>\n'
            '  <table id="listing">\n'
            '   <tr id="heading">\n'
            '    <th class="colname">Name</th>\n'
            '    <th class="colsize">Size</th>\n'
            '    <th class="coldate">Date</th>\n'
            '   </tr>\n'
            '%(rows)s\n'
            '  </table>\n'
            ' </body>\n'
            '</html>\n') % {'title': esc(title), 'css': css_link(css, prefix),
                            'rows': '\n'.join(rows)}
