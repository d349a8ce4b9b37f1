# Freshness Value Manager (AUTOSAR SecOC FVM), one object per secured PDU
# and direction-independent: the sender asks next_tx(), the receiver asks
# candidate() for the complete value behind the truncated bits it received
# and accept() once the MAC has verified.
#
# CounterFreshness: the single-counter scheme. MultiCounterFreshness: the
# multi-counter scheme (JASPAR by default, other layouts from fv_layout),
# whose trip and reset counters come from a SyncState shared by every PDU
# of the ECU (see fv_sync).
#
# A complete freshness value is a plain int of fv_bits bits. -1 means "no
# value": counter exhausted, or no candidate left.


def store_counter(buf, value):
    # value into the 9-byte little-endian counter buffer buf, no allocation.
    for i in range(9):
        buf[i] = value & 0xFF
        value >>= 8


def counter_candidate(last, trunc, tx_bits, fv_bits, attempt):
    # The spec's rule: keep the latest value's high bits if the received
    # low bits are greater than the latest's, else carry one into them;
    # each further attempt carries one more. The caller checks the result
    # against last and its upper bound.
    if tx_bits == fv_bits:
        return trunc if attempt == 0 else -1
    high = last >> tx_bits
    if trunc <= (last & ((1 << tx_bits) - 1)):
        high += 1
    return ((high + attempt) << tx_bits) | trunc


class CounterFreshness:
    # The counters live in two 9-byte little-endian buffers, so that the
    # per-frame path (keyagent.secoc.frame_mac.mac_frame) reads and advances
    # them itself, in one call with the MAC: tx_next, the next value to send
    # (the last one sent + 1), and rx_min, the lowest value the receiver
    # still accepts (the last one accepted + 1). counter and last are the
    # same state as plain ints; every other path goes through them. 9 bytes:
    # after a 64-bit counter's last value comes 2**64.
    custom_wire = False  # the truncated FV is the value's low bits

    def __init__(self, fv_bits, tx_bits, attempts=0):
        if not 0 <= tx_bits <= fv_bits <= 64:
            raise ValueError("need 0 <= tx_bits <= fv_bits <= 64")
        self.fv_bits = fv_bits
        self.tx_bits = tx_bits
        self.attempts = attempts  # extra candidates tried after the first
        self.max = (1 << fv_bits) - 1
        self.tx_next = bytearray(9)
        self.rx_min = bytearray(9)
        self.tx_next[0] = self.rx_min[0] = 1  # counter = last = 0

    def _check(self, value):
        # -1: nothing yet (a first value of 0 is then still to come).
        if not -1 <= value <= self.max:
            raise ValueError("freshness value out of range")
        return value + 1

    @property
    def counter(self):  # the last value sent
        return int.from_bytes(self.tx_next, "little") - 1

    @counter.setter
    def counter(self, value):
        store_counter(self.tx_next, self._check(value))

    @property
    def last(self):  # the last value accepted
        return int.from_bytes(self.rx_min, "little") - 1

    @last.setter
    def last(self, value):
        store_counter(self.rx_min, self._check(value))

    def next_tx(self):
        fv = self.counter
        if fv >= self.max:
            return -1  # exhausted: a rekey (new epoch) must come first
        fv += 1
        store_counter(self.tx_next, fv + 1)
        return fv

    def truncated(self, fv):
        return fv & ((1 << self.tx_bits) - 1)

    def candidate(self, trunc, attempt):
        last = self.last
        fv = counter_candidate(last, trunc, self.tx_bits, self.fv_bits, attempt)
        if fv <= last or fv > self.max:
            return -1
        return fv

    def stale(self, trunc, k):
        # The k-th newest value at or below the last accepted one with these
        # low bits: a frame that verifies with it is a replay.
        t = self.tx_bits
        last = self.last
        if t == self.fv_bits:
            fv = trunc if k == 0 else -1
        else:
            high = last >> t
            if trunc > (last & ((1 << t) - 1)):
                high -= 1
            fv = ((high - k) << t) | trunc
        return fv if 0 <= fv <= last else -1

    def ready(self):
        return True

    def accept(self, fv):
        self.last = fv

    def restart(self, value=0):
        # Both directions restart at value, e.g. when a sender resumes after
        # a reboot from a persisted high-water mark.
        value = self._check(value)
        store_counter(self.tx_next, value)
        store_counter(self.rx_min, value)


class MultiCounterFreshness:
    # The complete FV is laid out by a FreshnessLayout (fv_layout): trip and
    # reset counters from the SyncState shared by every PDU of the ECU, a
    # message counter per PDU, the reset flag. The receiver rebuilds the
    # value from the truncated bits: the reset cycle from the last sync, or
    # up to `missed` cycles ahead of it or behind it (a sync message the
    # receiver or the sender missed; the reset flag, when the layout has
    # one, rules out the others), the message counter by the counter rule
    # of CounterFreshness, with `attempts` carries.
    #
    # closed: this endpoint may have been sending or receiving under the same
    # key before a reboot (it joined an active epoch). Then the first reset
    # cycle it sees is closed: nothing is sent or accepted in it, so a reset
    # never reopens values used before it.
    tx_next = rx_min = None  # no counter for keyagent.secoc.frame_mac to advance

    def __init__(self, sync, layout, attempts=0, missed=1, closed=False):
        self.sync = sync
        self.layout = layout
        self.fv_bits = layout.fv_bits
        self.tx_bits = layout.tx_bits
        self.custom_wire = not layout.wire_is_low_bits()
        self.missed = missed
        self.msg_attempts = attempts
        self.attempts = (2 * missed + 2) * (attempts + 1) - 1  # what the engine tries
        self.msg = 0  # last message counter sent, within tx_cycle
        self.tx_cycle = -1  # (trip, reset) as one int, when msg was last reset
        self.floor = -2 if closed else -1  # cycles up to this one are closed
        self.last = 0  # last complete FV accepted

    def _cycle(self, trip, reset):
        return (trip << self.layout.reset_bits) | reset

    def _open(self, cycle):
        if self.floor == -2:  # the first cycle the sync shows is closed
            self.floor = self._cycle(self.sync.trip, self.sync.reset)
        return cycle > self.floor

    def next_tx(self):
        s = self.sync
        if not s.valid:
            return -1  # no trip/reset counters yet (waiting for a sync message)
        cycle = self._cycle(s.trip, s.reset)
        if cycle != self.tx_cycle:
            if not self._open(cycle):
                return -1
            self.tx_cycle = cycle
            self.msg = 0
        if self.msg >= (1 << self.layout.msg_bits) - 1:
            return -1
        self.msg += 1
        return self.layout.compose(s.trip, s.reset, self.msg)

    def truncated(self, fv):
        return self.layout.truncated(fv)

    def candidate(self, trunc, attempt):
        # The attempt-th possible complete value, or -1 when there is none.
        s = self.sync
        n = 0
        for i in range(2 * self.missed + 2):
            # Reset cycles: the sync's, 1 ahead, 1 behind, 2 ahead, .., and
            # the cycle before the last sync as it was (a new trip, or a sync
            # this ECU missed just before).
            trip = s.trip
            ahead = (i + 1) >> 1
            reset = s.reset + (ahead if i & 1 else -ahead)
            if i == 2 * self.missed + 1:
                if s.prev_trip < 0 or (s.prev_trip == trip and s.prev_reset == s.reset - 1):
                    break  # none, or tried already
                trip, reset = s.prev_trip, s.prev_reset
            for carry in range(self.msg_attempts + 1):
                fv = self._candidate(trunc, trip, reset, carry)
                if fv >= 0:
                    if n == attempt:
                        return fv
                    n += 1
        return -1

    def _candidate(self, trunc, trip, reset, carry):
        lay = self.layout
        if not self.sync.valid:
            return -1
        if reset < 0:
            return -1
        if reset >> lay.reset_bits:  # the reset counter wrapped: a new trip
            trip += 1
            reset -= 1 << lay.reset_bits
            if trip >> lay.trip_bits:
                return -1
        low, bits, flag = lay.split_wire(trunc)
        if flag >= 0 and flag != reset & ((1 << lay.flag_bits) - 1):
            return -1
        cycle = self._cycle(trip, reset)
        if not self._open(cycle):
            return -1
        last_trip, last_reset, last_msg = lay.split(self.last)
        if self.last and self._cycle(last_trip, last_reset) != cycle:
            last_msg = 0  # a newer cycle: its message counter starts again
        high = last_msg >> bits
        if low <= last_msg & ((1 << bits) - 1):
            high += 1
        msg = ((high + carry) << bits) | low
        if msg >> lay.msg_bits:
            return -1
        fv = lay.compose(trip, reset, msg)
        return fv if fv > self.last else -1

    def stale(self, trunc, k):
        # Replays within the last accepted value's reset cycle; older ones
        # show as MAC failures, which is still a rejection.
        if k or not self.last:
            return -1
        lay = self.layout
        trip, reset, last_msg = lay.split(self.last)
        low, bits, flag = lay.split_wire(trunc)
        if flag >= 0 and flag != reset & ((1 << lay.flag_bits) - 1):
            return -1
        high = last_msg >> bits
        if low > last_msg & ((1 << bits) - 1):
            high -= 1
        if high < 0:
            return -1
        return lay.compose(trip, reset, (high << bits) | low)

    def accept(self, fv):
        self.last = fv

    def ready(self):
        # False while there are no counters yet or their cycle is closed.
        s = self.sync
        return s.valid and self._open(self._cycle(s.trip, s.reset))
