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

Before its rename a data file waits for its bytes to reach the device
(GroupSync.wait_written, WriteOut), not for a flush: the one flush after the
rename makes them durable with it (the argument is in diskfile._put_file).
"""
import time

from swiftlike.concurrency import ThreadCondition
from swiftlike.fs import syncfs_path, write_out


class _Batches:
    """Waiters that arrive while a batch runs go together in the next one,
    which one of them leads; nobody returns before a batch that started after
    its arrival has finished. _run(items) runs a batch and returns
    {index in items: OSError} of the items that failed; if it raises instead,
    nothing advances: the other waiters wake and one of them leads anew."""

    def __init__(self, cond=None):
        self._cond = ThreadCondition() if cond is None else cond
        self._registered = 0    # tickets handed out
        self._done = 0          # every ticket up to this one is done
        self._leading = False
        self._pending = []      # (ticket, item) not yet in a batch
        self._failed = {}       # ticket -> the OSError of its item
        # What it saved: batches run, and waits they answered.
        self.syncs = 0
        self.waits = 0

    def _wait(self, item):
        with self._cond:
            self._registered += 1
            self.waits += 1
            ticket = self._registered
            self._pending.append((ticket, item))
            while self._done < ticket:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch, self._pending = self._pending, []
                failed = None
                self._cond.release()
                try:
                    failed = self._run([item for _, item in batch])
                finally:
                    self._cond.acquire()
                    self._leading = False
                    self._cond.notify_all()
                    if failed is None:
                        # The leader leaves with the error; the others' items
                        # go again in the next batch.
                        self._pending[:0] = [entry for entry in batch if entry[0] != ticket]
                for index, err in failed.items():
                    self._failed[batch[index][0]] = err
                self.syncs += 1
                self._done = max(self._done, batch[-1][0])
            err = self._failed.pop(ticket, None)
            if err is not None:
                raise err


class GroupSync(_Batches):
    """One syncfs(2) of a device's filesystem for the waiters of a batch."""

    def __init__(self, path, sync=syncfs_path, cond=None, writes=None):
        super().__init__(cond)
        self.path = path
        self._sync = sync
        # The device's WriteOut, for wait_written (default: each caller, an
        # OS thread, writes its own file out).
        self.writes = writes or WriteOut()

    def wait(self):
        """Return once everything written before this call is durable; raise
        the flush's OSError if the one covering this call failed."""
        self._wait(None)

    def wait_written(self, fd):
        """Return once the file's data has reached the device: enough before
        naming it, the flush after the rename making both durable (see
        fs.write_out)."""
        self.writes.wait(fd)

    def _run(self, items):
        self._sync(self.path)
        return {}


class WriteOut(_Batches):
    """A data file's bytes written to the device, and waited for, before it
    is named (fs.write_out: no device flush, no journal commit).

    Where the waiter is an OS thread (a disk thread), it writes its own file
    out. On the event loop the write-out of one small file is short on a
    device that answers fast (~0.1 ms), shorter than a hand-off to a disk
    thread, so it runs there directly. Should they take longer than `slow` on
    average (a moving one, so a lone preemption does not count), the device's
    write-outs go, for `penalty` seconds, to a disk thread (`offload(write,
    fds)`), the files of the waiters that arrive meanwhile together. A hung
    device is the DiskExecutor's to notice: the inline write it stalls sends
    the device's small writes to its threads."""

    WEIGHT = 0.1   # of the newest write-out in the moving average

    def __init__(self, write=write_out, cond=None, offload=None, slow=0.005, penalty=60.0,
                 clock=time.monotonic):
        super().__init__(cond)
        self._write = write
        self._offload = offload
        self.slow = slow
        self.penalty = penalty
        self._clock = clock
        self._average = 0.0
        self._offload_until = 0.0

    def wait(self, fd):
        """Return once the file's data written before this call has reached
        the device; raise the OSError of its write-out if it failed."""
        if self._offload is not None and self._clock() < self._offload_until:
            self._wait(fd)
            return
        start = self._clock()
        try:
            err = self._write([fd]).get(fd)
        finally:
            if self._offload is not None:
                now = self._clock()
                self._average += self.WEIGHT * (now - start - self._average)
                if self._average > self.slow:
                    self._offload_until = now + self.penalty
                    self._average = 0.0
        if err is not None:
            raise err

    def _run(self, fds):
        failed = self._offload(self._write, fds)
        return {index: failed[fd] for index, fd in enumerate(fds) if fd in failed}
