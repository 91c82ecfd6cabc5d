"""Account quotas (Swift's `account_quotas`).

Reseller admins cap an account with `X-Account-Quota-Bytes`,
`X-Account-Quota-Count` and their per-policy forms
`X-Account-Quota-{Bytes,Count}-Policy-<name>` (kept as account system
metadata, shown on the account's HEAD/GET), or the older
`X-Account-Meta-Quota-Bytes` (user metadata). Values are non-negative integers;
an empty value or `X-Remove-Account-Quota-*` removes one. Anybody else who
sends one of these is refused (403): an account's users cannot lift their own
cap. An object write (a PUT, also a server-side copy's) that would take the
account past a quota is refused with 413 `Upload exceeds quota.`. Counts come from the
proxy's account info cache (refreshed every `container_info_ttl` seconds,
and account totals follow container changes eventually), so a quota can be
overshot by what is written meanwhile, as in Swift.
"""
import dataclasses

from swiftlike.middleware import info, quotas
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.toolkit import (RESELLER_REQUEST_KEY, account_info, mark_feature,
                                          split_account_path)
from swiftlike.policies import DEFAULT_POLICY_NAME

SOURCE = 'AQ'
LEGACY = 'HTTP_X_ACCOUNT_META_QUOTA_BYTES'
LEGACY_REMOVE = 'HTTP_X_REMOVE_ACCOUNT_META_QUOTA_BYTES'
NEW = 'HTTP_X_ACCOUNT_QUOTA_'
NEW_REMOVE = 'HTTP_X_REMOVE_ACCOUNT_QUOTA_'
SYSMETA = 'x-account-sysmeta-quota-'


@dataclasses.dataclass
class Conf:
    pass


def quota_settings(env):
    """{sysmeta suffix ('bytes', 'count-policy-default', ...): value} of the
    new-style quota headers in a request ('' removes); ValueError naming a
    bad header. Legacy X-Account-Meta-Quota-Bytes is checked, not mapped."""
    out = {}
    for key in list(env):
        if key.startswith(NEW):
            suffix, value = key[len(NEW):], env[key]
        elif key.startswith(NEW_REMOVE):
            suffix, value = key[len(NEW_REMOVE):], ''
        else:
            continue
        suffix = suffix.lower().replace('_', '-')
        kind, _, policy = suffix.partition('-policy-')
        if kind not in ('bytes', 'count') or (_ and policy != DEFAULT_POLICY_NAME):
            raise ValueError('Invalid quota header %s' % key[5:].replace('_', '-').title())
        if value.strip():
            quotas.quota_value(value)   # raises for a non-integer
        out[suffix] = value.strip()
    if LEGACY in env and env[LEGACY].strip():
        quotas.quota_value(env[LEGACY])
    return out


class AccountQuotas:
    def __init__(self, app, conf):
        self.app = app
        info.register('account_quotas')

    def __call__(self, env, start_response):
        mark_feature(env, 'account_quotas')
        parts = split_account_path(env.get('PATH_INFO', ''))
        method = env.get('REQUEST_METHOD')
        if parts and parts[1] is None and method in ('PUT', 'POST'):
            try:
                settings = quota_settings(env)
            except ValueError as err:
                return quotas.reply(start_response, '400 Bad Request', str(err).encode())
            if (settings or LEGACY in env or LEGACY_REMOVE in env) and \
                    not env.get(RESELLER_REQUEST_KEY):
                return quotas.reply(start_response, '403 Forbidden',
                                    b'Only a reseller admin may change quotas')
            for suffix, value in settings.items():
                env['HTTP_X_ACCOUNT_SYSMETA_QUOTA_' + suffix.upper().replace('-', '_')] = value
            for key in [k for k in env if k.startswith((NEW, NEW_REMOVE))]:
                del env[key]
        if parts and parts[1] is None and method in ('HEAD', 'GET'):
            return self.app(env, _show_quotas(start_response))
        target = quotas.upload_target(env)
        if target is not None:
            ainfo = account_info(env, self.app, target[0], SOURCE)
            meta, sysmeta = ainfo.get('meta', {}), ainfo.get('sysmeta', {})
            limits = [(meta.get('quota-bytes'), 'bytes'), (sysmeta.get('quota-bytes'), 'bytes'),
                      (sysmeta.get('quota-bytes-policy-' + DEFAULT_POLICY_NAME), 'bytes'),
                      (sysmeta.get('quota-count'), 'count'),
                      (sysmeta.get('quota-count-policy-' + DEFAULT_POLICY_NAME), 'count')]
            if any(value is not None for value, _kind in limits):
                size = quotas.upload_size(env)
                for value, kind in limits:
                    used, adding = (ainfo['bytes'], size) if kind == 'bytes' else \
                        (ainfo['object_count'], 1)
                    if quotas.exceeds(value, used, adding):
                        return quotas.reply(start_response, '413 Request Entity Too Large',
                                            quotas.QUOTA_EXCEEDED)
        return self.app(env, start_response)


def _show_quotas(start_response):
    """Account HEAD/GET show the quotas kept in system metadata."""
    def show(status, headers, exc_info=None):
        extra = [('X-Account-Quota-' + name[len(SYSMETA):].title(), value)
                 for name, value in headers if name.lower().startswith(SYSMETA) and value]
        return start_response(status, list(headers) + extra, exc_info)
    return show


filter_factory = make_filter_factory(AccountQuotas, Conf)
