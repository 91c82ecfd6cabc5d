"""Account replicator: DB replication of account databases."""
from swiftlike.account.backend import AccountBroker
from swiftlike.db.replication import DbKind
from swiftlike.db.replicator import DbReplicator

ACCOUNT_KIND = DbKind(
    name='account', datadir='accounts', broker_class=AccountBroker,
    columns=('name', 'put_timestamp', 'delete_timestamp', 'object_count', 'bytes_used'),
    timestamp_columns=('put_timestamp', 'delete_timestamp'))


class AccountReplicator(DbReplicator):
    name = 'account-replicator'
    recon_kind = 'account'
    kind = ACCOUNT_KIND
    ring_name = 'account'

    def reclaimable(self, broker, info, cutoff):
        # A deleted account's database stays until the reaper has emptied it.
        return broker.is_deleted_info(info) and float(info['delete_timestamp']) < cutoff \
            and info.get('container_count', 0) == 0 and info.get('object_count', 0) == 0
