"""Container replicator: DB replication of container databases."""
from swiftlike.container.backend import ContainerBroker
from swiftlike.db.replication import DbKind
from swiftlike.db.replicator import DbReplicator

CONTAINER_KIND = DbKind(
    name='container', datadir='containers', broker_class=ContainerBroker,
    columns=('name', 'created_at', 'size', 'content_type', 'etag', 'deleted'),
    timestamp_columns=('created_at',))


class ContainerReplicator(DbReplicator):
    name = 'container-replicator'
    recon_kind = 'container'
    kind = CONTAINER_KIND
    ring_name = 'container'
