"""New connections spread evenly over a server's forked workers.

Every worker waits on the same listening socket, so a new connection goes to
whichever wakes first: 16 keep-alive clients arriving together were split 5
and 11 as often as 8 and 8, and the worker with 11 answered them slower (the
other one idled while its share waited). Here each worker counts its open
connections in a table in memory shared by the fork; a worker that serves
more than another one leaves a waiting connection to the others for a moment
(`DEFER`, re-checked every `STEP`), then takes it itself: so a stuck worker
never holds new connections back for longer than that.

The table has a row of `slots` counters per served socket; -1 marks a slot
that no live worker holds. Only a slot's own worker writes its counter (the
parent marks a slot free or claimed while no worker holds it), so plain
reads and writes of the shared memory suffice.
"""
import mmap

FREE = -1
DEFER = 0.025   # seconds a busier worker leaves a connection to the others
STEP = 0.002


class AcceptBalance:
    """The shared table, made in the parent before the workers fork."""

    def __init__(self, sockets, slots):
        self.sockets = sockets
        self.slots = slots
        self._mem = mmap.mmap(-1, 8 * sockets * slots)
        self.counts = memoryview(self._mem).cast('q')
        for i in range(sockets * slots):
            self.counts[i] = FREE

    def free_slot(self, taken):
        """A slot not in `taken`, or None when all are."""
        return next((s for s in range(self.slots) if s not in taken), None)

    def claim(self, slot):
        """Before a worker forks into `slot`: it holds no connections yet."""
        for row in range(self.sockets):
            self.counts[row * self.slots + slot] = 0

    def release(self, slot):
        """After the slot's worker exited (or stopped accepting)."""
        for row in range(self.sockets):
            self.counts[row * self.slots + slot] = FREE

    def worker(self, socket_index, slot):
        """The view of one socket's row the worker in `slot` uses."""
        return WorkerBalance(self.counts, socket_index * self.slots, self.slots, slot)


class WorkerBalance:
    """One worker's counter in one socket's row, and its peers'."""

    def __init__(self, counts, base, slots, slot):
        self.counts = counts
        self.base = base
        self.slots = slots
        self.index = base + slot

    def opened(self):
        self.counts[self.index] += 1

    def closed(self):
        self.counts[self.index] -= 1

    def busier(self):
        """True while another live worker of this socket has fewer open
        connections than this one."""
        counts, mine = self.counts, self.counts[self.index]
        return any(0 <= counts[i] < mine for i in range(self.base, self.base + self.slots)
                   if i != self.index)

    def leave(self):
        """This worker accepts no more: the others no longer wait for it."""
        self.counts[self.index] = FREE
