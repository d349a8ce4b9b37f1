# The key agent's end of the optical-module link (docs/optical-module-protocol.md),
# sans-I/O in the style of h11: the caller starts requests, hands in the bytes
# it received and the current time in ms, and takes out the bytes to write,
# the completed results and the delay until the next timer. A request that
# gets no valid response within timeout_ms is sent again with the same
# sequence number, `retries` times, then completes with status TIMEOUT.
from keyagent.compat import const
from keyagent.optical import link as ml
from keyagent.optical import messages as mm
from keyagent.optical.messages import QoS, Result  # noqa: F401 (the client's public API)

# Slot states; a slot is one outstanding request.
_FREE = const(0)
_WAITING = const(1)  # sent (or queued to send), no response yet
_DONE = const(2)  # result ready for next_result()

# Times are taken modulo MicroPython's ticks period, so time.ticks_ms() can
# be passed straight in and nothing grows into a long int.
_PERIOD_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
_WIRE_ROOM = const(129)  # a frame on the wire: 0x00 + MAX_WIRE + 0x00


def ticks_diff(a, b):
    return ((a - b + _HALF) & _PERIOD_MASK) - _HALF


class LinkBusy(Exception):
    """All request slots are in use: take results out before sending more."""


class _Slot:
    def __init__(self):
        self.state = _FREE
        self.seq = 0
        self.request = 0
        self.deadline = 0
        self.tries = 0
        self.to_send = 0  # 0 nothing, 1 first transmission, 2 retransmission
        self.raw = bytearray(ml.MAX_FRAME)  # type, seq, payload (+ room for the CRC)
        self.raw_len = 0
        self.wire = bytearray(ml.MAX_WIRE + 1)
        self.wire_len = 0
        self.result = None
        self.done_order = 0
        self.key_len = 0  # bytes of key the request asked for (0: any, but not none)


class ModuleClient:
    def __init__(self, timeout_ms=200, retries=3, max_outstanding=2, first_seq=0):
        # At most 4 outstanding: the module's replay window (protocol doc, section 5).
        # After a reset, pass a random first_seq (the document says why).
        if timeout_ms <= 0 or retries < 0 or not 1 <= max_outstanding <= 4 or not 0 <= first_seq <= 255:
            raise ValueError("timeout_ms, retries, max_outstanding or first_seq out of range")
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.slots = [_Slot() for _ in range(max_outstanding)]
        self.rx = ml.FrameReceiver()
        self.retransmissions = 0
        self._tx = bytearray(max_outstanding * _WIRE_ROOM)
        self._seq = first_seq
        self._done_count = 0

    # -- requests: each returns its sequence number ---------------------------

    def status(self, now_ms):
        return self._start(now_ms, ml.STATUS, mm.pack_empty)

    def open_connect(self, now_ms, source, destination, qos=None, ksid=None):
        return self._start(now_ms, ml.OPEN_CONNECT, mm.pack_open_connect, source, destination, qos, ksid)

    def get_key(self, now_ms, ksid, index):
        return self._start(now_ms, ml.GET_KEY, mm.pack_get_key, ksid, index)

    def close(self, now_ms, ksid):
        return self._start(now_ms, ml.CLOSE, mm.pack_id, ksid)

    def get_new_key(self, now_ms, size_bits):
        seq = self._start(now_ms, ml.GET_NEW_KEY, mm.pack_key_size, size_bits)
        self._slot(seq).key_len = size_bits // 8
        return seq

    def get_key_by_id(self, now_ms, key_id):
        return self._start(now_ms, ml.GET_KEY_BY_ID, mm.pack_id, key_id)

    def _start(self, now_ms, request, pack, *args):
        slot = None
        for s in self.slots:
            if s.state == _FREE:
                slot = s
                break
        if slot is None:
            raise LinkBusy("all %d request slots in use" % len(self.slots))
        raw = slot.raw
        n = pack(raw, *args)  # ValueError for bad arguments: the slot stays free
        seq = self._next_seq()
        raw[0] = request
        raw[1] = seq
        slot.raw_len = n
        slot.wire_len = ml.encode_frame(raw, n, slot.wire, 0)
        slot.state = _WAITING
        slot.seq = seq
        slot.request = request
        slot.tries = self.retries
        slot.to_send = 1
        slot.deadline = (now_ms + self.timeout_ms) & _PERIOD_MASK
        slot.result = None
        slot.key_len = 0
        return seq

    def _slot(self, seq):
        for s in self.slots:
            if s.state != _FREE and s.seq == seq:
                return s

    def _next_seq(self):
        while True:
            seq = self._seq
            self._seq = (seq + 1) & 0xFF
            if not any(s.state != _FREE and s.seq == seq for s in self.slots):
                return seq

    # -- I/O ------------------------------------------------------------------

    def data_to_send(self):
        """The bytes to write now (b"" if none)."""
        tx = self._tx
        n = 0
        for s in self.slots:
            if s.to_send:
                if s.to_send == 2:
                    tx[n] = 0  # a delimiter first, in case the line left junk behind
                    n += 1
                tx[n : n + s.wire_len] = memoryview(s.wire)[0 : s.wire_len]
                n += s.wire_len
                s.to_send = 0
        return bytes(memoryview(tx)[0:n])

    def receive_data(self, data):
        """Hands in received bytes; completed requests become results."""
        rx = self.rx
        pos = 0
        end = len(data)
        while pos < end:
            pos = rx.feed(data, pos, end)
            if rx.length:
                self._handle(rx.frame, rx.length)

    def next_timer(self, now_ms):
        """ms until handle_timers() has work, or -1 when nothing is waiting."""
        best = -1
        for s in self.slots:
            if s.state == _WAITING:
                d = ticks_diff(s.deadline, now_ms)
                d = d if d > 0 else 0
                if best < 0 or d < best:
                    best = d
        return best

    def handle_timers(self, now_ms):
        for s in self.slots:
            if s.state != _WAITING or ticks_diff(s.deadline, now_ms) > 0:
                continue
            if s.tries > 0:
                if not s.raw[0] & ml.RETRY:
                    # Marked as a retransmission: the module may answer it
                    # from its replay window instead of running it again.
                    s.raw[0] |= ml.RETRY
                    s.wire_len = ml.encode_frame(s.raw, s.raw_len, s.wire, 0)
                s.tries -= 1
                s.to_send = 2
                s.deadline = (now_ms + self.timeout_ms) & _PERIOD_MASK
                self.retransmissions += 1
            else:
                s.to_send = 0
                self._complete(s, Result(s.request, s.seq, ml.TIMEOUT, True))

    def next_result(self):
        """The oldest completed request's Result (freeing its slot), or None."""
        first = None
        for s in self.slots:
            if s.state == _DONE and (first is None or s.done_order - first.done_order < 0):
                first = s
        if first is None:
            return None
        first.state = _FREE
        r = first.result
        first.result = None
        return r

    def outstanding(self):
        return sum(1 for s in self.slots if s.state == _WAITING)

    # -- responses ------------------------------------------------------------

    def _complete(self, slot, result):
        slot.state = _DONE
        slot.result = result
        slot.done_order = self._done_count
        self._done_count += 1

    def _handle(self, f, n):
        kind = f[0]
        if not kind & ml.RESPONSE:
            self.rx.reject(ml.REJ_TYPE)
            return
        slot = None
        for s in self.slots:
            if s.state == _WAITING and s.seq == f[1] and s.request | ml.RESPONSE == kind:
                slot = s
                break
        if slot is None or n < 3:
            self.rx.reject(ml.REJ_UNSOLICITED if slot is None else ml.REJ_LENGTH)
            return
        r = mm.parse_response(slot.request, slot.seq, f, n)
        if r is not None and r.key is not None:
            for i in range(n):
                f[i] = 0  # the receive buffer's copy of the key
        if r is not None and r.key is not None and (len(r.key) == 0 or (slot.key_len and len(r.key) != slot.key_len)):
            # A key of another length than asked for (or none) is a module
            # fault: counted, wiped, and the request retried, then TIMEOUT.
            for i in range(len(r.key)):
                r.key[i] = 0
            r = None
        if r is None:
            self.rx.reject(ml.REJ_LENGTH)
            return
        slot.to_send = 0
        self._complete(slot, r)
