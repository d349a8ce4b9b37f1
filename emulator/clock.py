# A tiny discrete-event scheduler in virtual time (integer nanoseconds).
# Events are kept in a heap of [time, seq, callback, args]; seq breaks ties,
# so events at the same time run in the order they were scheduled and a run
# is deterministic. Cancelling an event blanks its callback (lazy deletion).
import heapq

MS = 1_000_000
US = 1_000
S = 1_000_000_000


class Clock:
    """Virtual time in ns. call_at/call_later schedule callback(*args)."""

    def __init__(self, start_ns=0):
        self.now = start_ns
        self._heap = []
        self._seq = 0

    def call_at(self, t_ns, callback, *args):
        """Schedule callback(*args) at t_ns (not before now). Returns a handle for cancel()."""
        if t_ns < self.now:
            raise ValueError("cannot schedule in the past (%d < %d)" % (t_ns, self.now))
        self._seq += 1
        entry = [t_ns, self._seq, callback, args]
        heapq.heappush(self._heap, entry)
        return entry

    def call_later(self, delay_ns, callback, *args):
        return self.call_at(self.now + delay_ns, callback, *args)

    @staticmethod
    def cancel(handle):
        handle[2] = None

    def next_time(self):
        """Time of the earliest pending event, or None."""
        heap = self._heap
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_until(self, t_ns):
        """Run every event with time <= t_ns in order, then set now = t_ns.
        Returns the number of callbacks run."""
        heap = self._heap
        pop = heapq.heappop
        count = 0
        while heap and heap[0][0] <= t_ns:
            entry = pop(heap)
            cb = entry[2]
            if cb is None:
                continue
            self.now = entry[0]
            cb(*entry[3])
            count += 1
        if t_ns > self.now:
            self.now = t_ns
        return count

    def run_for(self, duration_ns):
        return self.run_until(self.now + duration_ns)

    def pending(self):
        return sum(1 for e in self._heap if e[2] is not None)
