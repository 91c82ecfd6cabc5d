"""One flush shared by the writes on a device that wait for durability at once.

A small PUT used to make four fsyncs (its file, its hash dir, and the parents
of any directory it created); with several PUTs in flight on one device each
paid for its own. Here a write that needs "everything I did so far is on disk"
calls GroupSync.wait(): the first waiter becomes the leader and runs one
syncfs(2) of the device's filesystem for everybody registered before the call
started; those arriving meanwhile wait for the next one, which one of them
leads. Nobody returns before a flush that started after its own writes has
finished, so no write is acknowledged before its data, its metadata and its
directory entries are durable.

Waiters block in real OS threads (the disk threads of concurrency.DiskExecutor)
on a ThreadCondition, or, for writes made inline on the event loop, in green
threads on a GreenCondition, the leader's flush then running in a disk thread.
"""
from swiftlike.concurrency import ThreadCondition
from swiftlike.fs import syncfs_path


class GroupSync:
    def __init__(self, path, sync=syncfs_path, cond=None):
        self.path = path
        self._sync = sync
        self._cond = ThreadCondition() if cond is None else cond
        self._registered = 0    # tickets handed out
        self._durable = 0       # every ticket up to this one is durable
        self._leading = False
        # What it saved: flushes run, and waits they answered.
        self.syncs = 0
        self.waits = 0

    def wait(self):
        """Return once everything written before this call is durable; raise
        the flush's OSError if the one covering this call failed."""
        with self._cond:
            self._registered += 1
            self.waits += 1
            ticket = self._registered
            while self._durable < ticket:
                if self._leading:
                    self._cond.wait()
                    continue
                # Lead a flush for every ticket registered until now.
                self._leading = True
                covers = self._registered
                self._cond.release()
                try:
                    self._sync(self.path)
                finally:
                    self._cond.acquire()
                    self._leading = False
                    # On failure nothing advances: the other waiters wake and
                    # one of them leads a new flush (and sees its own error).
                    self._cond.notify_all()
                self.syncs += 1
                self._durable = max(self._durable, covers)
