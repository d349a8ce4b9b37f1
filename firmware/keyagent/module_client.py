# The key agent's end of the optical-module link (docs/optical-module-protocol.md),
# sans-I/O in the style of h11: the caller starts requests, hands in the bytes
# it received and the current time in ms, and takes out the bytes to write,
# the completed results and the delay until the next timer. A request that
# gets no valid response within timeout_ms is sent again with the same
# sequence number, `retries` times, then completes with status TIMEOUT.
import struct

from keyagent.compat import const
from keyagent import module_link as ml

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


class QoS:
    # ETSI GS QKD 004 QoS of OPEN_CONNECT; rates in bit/s, 0 = no requirement.
    def __init__(self, key_chunk_size=32, max_bps=0, min_bps=0, jitter=0, priority=0, timeout_ms=0, ttl_s=0):
        self.key_chunk_size = key_chunk_size
        self.max_bps = max_bps
        self.min_bps = min_bps
        self.jitter = jitter
        self.priority = priority
        self.timeout_ms = timeout_ms
        self.ttl_s = ttl_s


class ModuleStatus:
    # The payload of a STATUS response.
    def __init__(self, fields):
        (self.version, self.link_state, self.key_size_bits, self.stored_keys, self.max_keys,
         self.qber_ppm, self.key_rate_bps, self.rx_rejected) = fields


class Result:
    """A completed request. status is an ETSI 004 code (or this link's own);
    local is True when the client gave up after its retries (status TIMEOUT).
    key is a bytearray the caller may zeroise."""

    def __init__(self, request, seq, status, local=False):
        self.request = request
        self.seq = seq
        self.status = status
        self.local = local
        self.ksid = None
        self.key_chunk_size = 0
        self.index = 0
        self.key_id = None
        self.key = None
        self.info = None

    def ok(self):
        return self.status == ml.SUCCESS or (self.status == ml.PEER_NOT_CONNECTED and self.request == ml.OPEN_CONNECT)


class _Slot:
    def __init__(self):
        self.state = _FREE
        self.seq = 0
        self.request = 0
        self.deadline = 0
        self.tries = 0
        self.to_send = 0  # 0 nothing, 1 first transmission, 2 retransmission
        self.wire = bytearray(ml.MAX_WIRE + 1)
        self.wire_len = 0
        self.result = None
        self.done_order = 0


class ModuleClient:
    def __init__(self, timeout_ms=200, retries=3, max_outstanding=2):
        if timeout_ms <= 0 or retries < 0 or not 1 <= max_outstanding <= 8:
            raise ValueError("timeout_ms, retries or max_outstanding out of range")
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.slots = [_Slot() for _ in range(max_outstanding)]
        self.rx = ml.FrameReceiver()
        self.retransmissions = 0
        self._raw = bytearray(ml.MAX_FRAME)
        self._tx = bytearray(max_outstanding * _WIRE_ROOM)
        self._seq = 0
        self._done_count = 0

    # -- requests: each returns its sequence number ---------------------------

    def status(self, now_ms):
        return self._start(now_ms, ml.STATUS, 2)

    def open_connect(self, now_ms, source, destination, qos=None, ksid=None):
        src = _text(source)
        dst = _text(destination)
        q = qos or QoS()
        if not 1 <= q.key_chunk_size <= ml.MAX_KEY:
            raise ValueError("key_chunk_size must be 1..%d bytes" % ml.MAX_KEY)
        raw = self._raw
        o = _put_id(raw, 2, ksid if ksid is not None else bytes(ml.ID_LEN))
        raw[o] = len(src)
        raw[o + 1 : o + 1 + len(src)] = src
        o += 1 + len(src)
        raw[o] = len(dst)
        raw[o + 1 : o + 1 + len(dst)] = dst
        o += 1 + len(dst)
        struct.pack_into(">HIIIIII", raw, o, q.key_chunk_size, q.max_bps, q.min_bps, q.jitter,
                         q.priority, q.timeout_ms, q.ttl_s)
        return self._start(now_ms, ml.OPEN_CONNECT, o + 26)

    def get_key(self, now_ms, ksid, index):
        if not 0 <= index <= 0xFFFFFFFF:
            raise ValueError("index must fit 32 bits")
        o = _put_id(self._raw, 2, ksid)
        struct.pack_into(">I", self._raw, o, index)
        return self._start(now_ms, ml.GET_KEY, o + 4)

    def close(self, now_ms, ksid):
        return self._start(now_ms, ml.CLOSE, _put_id(self._raw, 2, ksid))

    def get_new_key(self, now_ms, size_bits):
        if size_bits % 8 or not 8 <= size_bits <= ml.MAX_KEY * 8:
            raise ValueError("size_bits must be a multiple of 8 in 8..%d" % (ml.MAX_KEY * 8))
        struct.pack_into(">H", self._raw, 2, size_bits)
        return self._start(now_ms, ml.GET_NEW_KEY, 4)

    def get_key_by_id(self, now_ms, key_id):
        return self._start(now_ms, ml.GET_KEY_BY_ID, _put_id(self._raw, 2, key_id))

    def _start(self, now_ms, request, n):
        slot = None
        for s in self.slots:
            if s.state == _FREE:
                slot = s
                break
        if slot is None:
            raise LinkBusy("all %d request slots in use" % len(self.slots))
        seq = self._next_seq()
        raw = self._raw
        raw[0] = request
        raw[1] = seq
        slot.wire_len = ml.encode_frame(raw, n, slot.wire, 0)
        slot.state = _WAITING
        slot.seq = seq
        slot.request = request
        slot.tries = self.retries
        slot.to_send = 1
        slot.deadline = (now_ms + self.timeout_ms) & _PERIOD_MASK
        slot.result = None
        return seq

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
        r = _parse(slot.request, slot.seq, f, n)
        if r is None:
            self.rx.reject(ml.REJ_LENGTH)
            return
        slot.to_send = 0
        self._complete(slot, r)


def _parse(request, seq, f, n):
    # f[0:n] is a response frame (type, seq, status, body); None if its
    # length does not fit the request.
    status = f[2]
    r = Result(request, seq, status)
    body = n - 3
    if not r.ok():
        return r if body == 0 else None
    if request == ml.STATUS:
        if body != 24:
            return None
        r.info = ModuleStatus(struct.unpack_from(">BBHIIIII", f, 3))
    elif request == ml.OPEN_CONNECT:
        if body != ml.ID_LEN + 2:
            return None
        r.ksid = bytes(f[3:19])
        r.key_chunk_size = (f[19] << 8) | f[20]
    elif request == ml.GET_KEY:
        if body < 21 or f[23] > ml.MAX_KEY or body != 21 + f[23]:
            return None
        r.index = struct.unpack_from(">I", f, 3)[0]
        r.key_id = bytes(f[7:23])
        r.key = bytearray(f[24:n])
    elif request == ml.GET_NEW_KEY:
        if body < 17 or f[19] > ml.MAX_KEY or body != 17 + f[19]:
            return None
        r.key_id = bytes(f[3:19])
        r.key = bytearray(f[20:n])
    elif request == ml.GET_KEY_BY_ID:
        if body < 1 or f[3] > ml.MAX_KEY or body != 1 + f[3]:
            return None
        r.key = bytearray(f[4:n])
    elif body != 0:  # CLOSE
        return None
    return r


def _text(s):
    b = s.encode() if isinstance(s, str) else bytes(s)
    if len(b) > ml.MAX_NAME:
        raise ValueError("source/destination longer than %d bytes" % ml.MAX_NAME)
    return b


def _put_id(raw, off, ident):
    if len(ident) != ml.ID_LEN:
        raise ValueError("IDs are %d bytes" % ml.ID_LEN)
    raw[off : off + ml.ID_LEN] = ident
    return off + ml.ID_LEN
