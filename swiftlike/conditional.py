"""Conditional requests (RFC 7232): If-Match, If-None-Match,
If-Modified-Since, If-Unmodified-Since. Pure: no I/O.

evaluate() answers None (go ahead), 304 or 412 for a representation with a
given ETag and Last-Modified (whole seconds since the epoch).
"""
import datetime
import email.utils


def parse_etags(value):
    """'"a", W/"b"' -> {'a', 'b'}; '*' -> '*'; None -> None."""
    if value is None:
        return None
    value = value.strip()
    if value == '*':
        return '*'
    tags = set()
    for item in value.split(','):
        item = item.strip()
        if item.startswith('W/'):
            item = item[2:]
        item = item.strip('"')
        if item:
            tags.add(item)
    return tags


def parse_http_date(value):
    """Seconds since the epoch, or None when absent or not a valid HTTP date."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        # asctime's form ('Sun Nov  6 08:49:37 1994') has no zone: HTTP dates
        # are GMT (RFC 9110 section 5.6.7).
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _matches(tags, etag):
    return tags == '*' or (etag is not None and etag.strip('"') in tags)


# The WSGI environ keys of the headers evaluate() reads.
CONDITION_KEYS = ('HTTP_IF_MATCH', 'HTTP_IF_NONE_MATCH', 'HTTP_IF_MODIFIED_SINCE',
                  'HTTP_IF_UNMODIFIED_SINCE')


def has_conditions(environ):
    """Whether a request carries any header evaluate() reads (most do not:
    then there is nothing to evaluate)."""
    return any(key in environ for key in CONDITION_KEYS)


def evaluate(headers, etag, last_modified, method='GET'):
    """None, 304 or 412 for request `headers` (a case-insensitive mapping)."""
    if_match = parse_etags(headers.get('If-Match'))
    if if_match is not None and not _matches(if_match, etag):
        return 412
    # Swift checks If-Unmodified-Since even when If-Match matched (RFC 9110
    # would skip it); clients written against Swift rely on either failing.
    since = parse_http_date(headers.get('If-Unmodified-Since'))
    if since is not None and last_modified > since:
        return 412
    if_none_match = parse_etags(headers.get('If-None-Match'))
    if if_none_match is not None:
        if _matches(if_none_match, etag):
            return 304 if method in ('GET', 'HEAD') else 412
    elif method in ('GET', 'HEAD'):
        since = parse_http_date(headers.get('If-Modified-Since'))
        if since is not None and last_modified <= since:
            return 304
    return None


def if_range_allows(value, etag, last_modified):
    """Whether a Range applies given If-Range (absent: yes)."""
    if not value:
        return True
    value = value.strip()
    if value.startswith('"') or value.startswith('W/'):
        return not value.startswith('W/') and value.strip('"') == (etag or '').strip('"')
    date = parse_http_date(value)
    return date is not None and last_modified <= date
