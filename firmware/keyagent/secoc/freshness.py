# Freshness Value Manager (AUTOSAR SecOC FVM), one object per secured PDU
# and direction-independent: the sender asks next_tx(), the receiver asks
# candidate() for the complete value behind the truncated bits it received
# and accept() once the MAC has verified.
#
# CounterFreshness: the single-counter scheme. MultiCounterFreshness: the
# JASPAR multi-counter scheme (Profile 3), whose trip and reset counters
# come from a SyncState shared by every PDU of the ECU (see fv_sync).
#
# A complete freshness value is a plain int of fv_bits bits. -1 means "no
# value": counter exhausted, or no candidate left.


class CounterFreshness:
    def __init__(self, fv_bits, tx_bits, attempts=0):
        if not 0 <= tx_bits <= fv_bits <= 64:
            raise ValueError("need 0 <= tx_bits <= fv_bits <= 64")
        self.fv_bits = fv_bits
        self.tx_bits = tx_bits
        self.attempts = attempts  # extra candidates tried after the first
        self.max = (1 << fv_bits) - 1
        self.counter = 0  # last value sent
        self.last = 0  # last value accepted

    def next_tx(self):
        if self.counter >= self.max:
            return -1  # exhausted: a rekey (new epoch) must come first
        self.counter += 1
        return self.counter

    def truncated(self, fv):
        return fv & ((1 << self.tx_bits) - 1)

    def candidate(self, trunc, attempt):
        # The spec's rule: keep the latest value's high bits if the received
        # low bits are greater than the latest's, else carry one into them;
        # each further attempt carries one more.
        t = self.tx_bits
        if t == self.fv_bits:
            fv = trunc if attempt == 0 else -1
        else:
            last = self.last
            high = last >> t
            if trunc <= (last & ((1 << t) - 1)):
                high += 1
            fv = ((high + attempt) << t) | trunc
        if fv <= self.last or fv > self.max:
            return -1
        return fv

    def stale(self, trunc, k):
        # The k-th newest value at or below the last accepted one with these
        # low bits: a frame that verifies with it is a replay.
        t = self.tx_bits
        if t == self.fv_bits:
            fv = trunc if k == 0 else -1
        else:
            high = self.last >> t
            if trunc > (self.last & ((1 << t) - 1)):
                high -= 1
            fv = ((high - k) << t) | trunc
        return fv if 0 <= fv <= self.last else -1

    def ready(self):
        return True

    def accept(self, fv):
        self.last = fv

    def restart(self, value=0):
        # Both directions restart at value, e.g. when a sender resumes after
        # a reboot from a persisted high-water mark.
        self.counter = value
        self.last = value


class MultiCounterFreshness:
    # FV = trip | reset | message | reset flag (widths from the SyncState and
    # msg_bits); the truncated FV is the low message-counter bits followed by
    # the reset flag (the low flag_bits of the reset counter).
    def __init__(self, sync, msg_bits, tx_bits, attempts=0):
        self.sync = sync
        self.msg_bits = msg_bits
        self.flag_bits = sync.flag_bits
        self.tx_bits = tx_bits
        self.fv_bits = sync.trip_bits + sync.reset_bits + msg_bits + sync.flag_bits
        if self.fv_bits > 64 or not self.flag_bits < tx_bits <= msg_bits + self.flag_bits:
            raise ValueError("multi-counter widths do not fit")
        self.attempts = attempts
        self.msg = 0  # last message counter sent, within tx_epoch
        self.tx_epoch = -1  # (trip, reset) as one int, when msg was last reset
        self.last = 0  # last complete FV accepted

    def _compose(self, trip, reset, msg):
        s = self.sync
        f = self.flag_bits
        fv = (trip << s.reset_bits) | reset
        fv = (fv << self.msg_bits) | msg
        return (fv << f) | (reset & ((1 << f) - 1))

    def next_tx(self):
        s = self.sync
        if not s.valid:
            return -1  # no trip/reset counters yet (waiting for a sync message)
        epoch = (s.trip << s.reset_bits) | s.reset
        if epoch != self.tx_epoch:
            self.tx_epoch = epoch
            self.msg = 0
        if self.msg >= (1 << self.msg_bits) - 1:
            return -1
        self.msg += 1
        return self._compose(s.trip, s.reset, self.msg)

    def truncated(self, fv):
        return fv & ((1 << self.tx_bits) - 1)

    def candidate(self, trunc, attempt):
        s = self.sync
        if not s.valid:
            return -1
        f = self.flag_bits
        low_bits = self.tx_bits - f
        flag = trunc & ((1 << f) - 1)
        low = trunc >> f
        reset = s.reset
        if flag != reset & ((1 << f) - 1):
            # The sender is one reset cycle ahead (its sync message is late).
            reset += 1
            if flag != reset & ((1 << f) - 1) or reset >> s.reset_bits:
                return -1
        base = self._compose(s.trip, reset, 0)
        last_msg = 0
        if (self.last >> (f + self.msg_bits)) == (base >> (f + self.msg_bits)):
            last_msg = (self.last >> f) & ((1 << self.msg_bits) - 1)
        high = last_msg >> low_bits
        if low <= (last_msg & ((1 << low_bits) - 1)):
            high += 1
        msg = ((high + attempt) << low_bits) | low
        if msg >> self.msg_bits:
            return -1
        fv = base | (msg << f)
        return fv if fv > self.last else -1

    def stale(self, trunc, k):
        # Replays within the current reset cycle; older ones show as MAC
        # failures, which is still a rejection.
        if k or not self.sync.valid:
            return -1
        f = self.flag_bits
        low_bits = self.tx_bits - f
        last_msg = (self.last >> f) & ((1 << self.msg_bits) - 1)
        low = trunc >> f
        high = last_msg >> low_bits
        if low > (last_msg & ((1 << low_bits) - 1)):
            high -= 1
        if high < 0:
            return -1
        fv = (self.last & ~(((1 << self.msg_bits) - 1) << f)) | (((high << low_bits) | low) << f)
        return fv if fv <= self.last and (fv & ((1 << f) - 1)) == (trunc & ((1 << f) - 1)) else -1

    def accept(self, fv):
        self.last = fv

    def ready(self):
        return self.sync.valid
