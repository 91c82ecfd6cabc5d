"""Container quotas (Swift's `container_quotas`).

Owners set `X-Container-Meta-Quota-Bytes` and `X-Container-Meta-Quota-Count`
on a container (non-negative integers; an empty value removes one; anything
else is 400). An object write (a PUT, also a server-side copy's) that would
take the container past either is refused with 413 `Upload exceeds quota.`. The counts
come from the proxy's container info cache, so a burst of writes within
`container_info_ttl` of each other can overshoot a quota a little, as in Swift.
"""
import dataclasses

from swiftlike.middleware import info, quotas
from swiftlike.middleware.filters import make_filter_factory
from swiftlike.middleware.toolkit import container_info, mark_feature, split_account_path

SOURCE = 'CQ'


@dataclasses.dataclass
class Conf:
    pass


class ContainerQuotas:
    def __init__(self, app, conf):
        self.app = app
        info.register('container_quotas')

    def __call__(self, env, start_response):
        mark_feature(env, 'container_quotas')
        parts = split_account_path(env.get('PATH_INFO', ''))
        method = env.get('REQUEST_METHOD')
        if parts and parts[1] and not parts[2] and method in ('PUT', 'POST'):
            for name, what in (('HTTP_X_CONTAINER_META_QUOTA_BYTES', 'bytes'),
                               ('HTTP_X_CONTAINER_META_QUOTA_COUNT', 'count')):
                if name in env:
                    try:
                        quotas.quota_value(env[name])
                    except ValueError:
                        return quotas.reply(start_response, '400 Bad Request',
                                            b'Invalid %s quota.' % what.encode())
        target = quotas.upload_target(env)
        if target is not None:
            cinfo = container_info(env, self.app, target[0], target[1], SOURCE)
            meta = cinfo.get('meta', {})
            if 'quota-bytes' in meta or 'quota-count' in meta:
                size = quotas.upload_size(env)
                if quotas.exceeds(meta.get('quota-bytes'), cinfo['bytes'], size) or \
                        quotas.exceeds(meta.get('quota-count'), cinfo['object_count'], 1):
                    return quotas.reply(start_response, '413 Request Entity Too Large',
                                        quotas.QUOTA_EXCEEDED)
        return self.app(env, start_response)


filter_factory = make_filter_factory(ContainerQuotas, Conf)
