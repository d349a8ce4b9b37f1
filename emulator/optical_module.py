# The module's end of the optical-module UART link (docs/optical-module-protocol.md),
# sans-I/O: receive_data(bytes) -> bytes to write. It frames with the
# firmware's keyagent.optical.link (the same code the agent runs) and packs and
# parses the messages itself, so the two ends meet only through the document.
# Each end serves one side ('A' or 'B') of a ModulePair; the ETSI 004 key
# streams of both ends live in one StreamTable.
import os
import struct
import threading

from emulator import qkd_errors
from emulator import qkd_pair
from keyagent.optical import link as ml

PROTOCOL_VERSION = 1
MAX_STREAMS = 16
_QOS = struct.Struct(">HIIIIII")
# Request payload lengths (OPEN_CONNECT varies; it is checked by its parser).
_FIXED_LEN = {ml.STATUS: 0, ml.GET_KEY: 20, ml.CLOSE: 16, ml.GET_NEW_KEY: 2, ml.GET_KEY_BY_ID: 16}


class LinkError(Exception):
    """A request the module answers with a non-success status."""

    def __init__(self, status):
        super().__init__(ml.STATUS_NAMES.get(status, str(status)))
        self.status = status


# ModulePair link states -> the STATUS link-state byte.
LINK_STATES = {
    qkd_pair.LINK_UP: ml.LINK_UP,
    qkd_pair.LINK_ALARM: ml.LINK_ALARM,
    qkd_pair.LINK_NO_KEY_RATE: ml.LINK_NO_KEY_RATE,
    qkd_pair.LINK_PEER_DISCONNECTED: ml.LINK_PEER_DISCONNECTED,
    qkd_pair.LINK_UNPLUGGED: ml.LINK_UNPLUGGED,
}


def status_of(exc):
    # The link status code for a ModulePair refusal: its ETSI 004 code, except
    # that an unknown key ID gets this link's own, more precise code.
    if isinstance(exc, qkd_errors.KeyNotFound):
        return ml.KEY_ID_UNKNOWN
    return exc.status


class _Stream:
    def __init__(self, ksid, chunk, source, destination):
        self.ksid = ksid
        self.chunk = chunk
        self.source = source
        self.destination = destination
        self.open_sides = set()
        self.key_ids = {}  # index -> key ID, shared by both sides


class StreamTable:
    """The ETSI 004 key streams of one module pair, shared by its two ends:
    the first side to ask for index i draws a new key, the other side gets
    the same key by its ID."""

    def __init__(self, pair):
        self.pair = pair
        self._lock = threading.Lock()
        self._streams = {}

    def open(self, side, ksid, chunk, source, destination):
        with self._lock:
            if not any(ksid):
                ksid = os.urandom(ml.ID_LEN)
            s = self._streams.get(ksid)
            if s is None:
                if len(self._streams) >= MAX_STREAMS:
                    raise LinkError(ml.NO_QKD_CONNECTION)
                s = self._streams[ksid] = _Stream(ksid, chunk, source, destination)
            elif side in s.open_sides:
                raise LinkError(ml.KSID_IN_USE)
            s.open_sides.add(side)
            peer_open = len(s.open_sides) == 2
            return s.ksid, s.chunk, ml.SUCCESS if peer_open else ml.PEER_NOT_CONNECTED

    def get_key(self, side, ksid, index):
        with self._lock:
            s = self._streams.get(ksid)
            if s is None or side not in s.open_sides:
                raise LinkError(ml.KSID_UNKNOWN)
            if len(s.open_sides) < 2:
                raise LinkError(ml.PEER_APP_NOT_CONNECTED)
            key_id = s.key_ids.get(index)
            if key_id is None:
                key_id, key = self.pair.take_new_key(side, s.chunk * 8)
                s.key_ids[index] = key_id
            else:
                key = self.pair.take_key_by_id(side, key_id)
            return key_id, key

    def close(self, side, ksid):
        with self._lock:
            s = self._streams.get(ksid)
            if s is None or side not in s.open_sides:
                raise LinkError(ml.KSID_UNKNOWN)
            s.open_sides.discard(side)
            if not s.open_sides:
                del self._streams[ksid]


class OpticalModuleEnd:
    """One optical module's UART endpoint."""

    def __init__(self, pair, side, streams=None, replay_slots=4):
        self.pair = pair
        self.side = side
        self.streams = streams if streams is not None else StreamTable(pair)
        self.rx = ml.FrameReceiver()
        self.replays = 0
        self._raw = bytearray(ml.MAX_FRAME)
        self._wire = bytearray(ml.MAX_WIRE + 1)
        # The replay window: seq -> (request, response) of the last requests,
        # so a retransmission gets the same answer instead of drawing a
        # second key.
        self._replay_slots = replay_slots
        self._recent = {}

    def rejects(self):
        return dict(zip(ml.REJ_NAMES, self.rx.rejects))

    def receive_data(self, data):
        out = bytearray()
        rx = self.rx
        pos = 0
        while pos < len(data):
            pos = rx.feed(data, pos)
            if rx.length:
                out += self._handle(bytes(rx.frame[0 : rx.length]))
        return bytes(out)

    def _handle(self, request):
        kind, seq = request[0], request[1]
        if kind & ml.RESPONSE:
            self.rx.reject(ml.REJ_TYPE)  # never answer a response: no loops
            return b""
        retry = kind & ml.RETRY
        kind &= ~ml.RETRY
        fresh = bytes((kind,)) + request[1:]
        if retry:
            entry = self._recent.get(seq)
            if entry is not None and entry[0] == fresh:
                self.replays += 1
                return entry[1]
        body = request[2:]
        expected = _FIXED_LEN.get(kind)
        if kind == ml.OPEN_CONNECT:
            result = self._open_connect(body)
        elif expected is None:
            self.rx.reject(ml.REJ_TYPE)
            result = (ml.BAD_REQUEST, b"")
        elif len(body) != expected:
            self.rx.reject(ml.REJ_LENGTH)
            result = (ml.BAD_REQUEST, b"")
        else:
            result = self._call(kind, body)
        wire = self._encode(kind | ml.RESPONSE, seq, result[0], result[1])
        self._recent.pop(seq, None)
        self._recent[seq] = (fresh, wire)
        if len(self._recent) > self._replay_slots:
            del self._recent[next(iter(self._recent))]  # the oldest
        return wire

    def _encode(self, kind, seq, status, body):
        raw = self._raw
        raw[0] = kind
        raw[1] = seq
        raw[2] = status
        raw[3 : 3 + len(body)] = body
        n = ml.encode_frame(raw, 3 + len(body), self._wire, 0)
        return bytes(self._wire[0:n])

    def _call(self, kind, body):
        try:
            if kind == ml.STATUS:
                return ml.SUCCESS, self._status_body()
            if kind == ml.GET_KEY:
                index = struct.unpack_from(">I", body, 16)[0]
                key_id, key = self.streams.get_key(self.side, bytes(body[0:16]), index)
                return ml.SUCCESS, struct.pack(">I", index) + key_id + bytes((len(key),)) + key
            if kind == ml.CLOSE:
                self.streams.close(self.side, bytes(body))
                return ml.SUCCESS, b""
            if kind == ml.GET_NEW_KEY:
                bits = struct.unpack(">H", body)[0]
                if bits % 8 or not 8 <= bits <= ml.MAX_KEY * 8:
                    return ml.BAD_REQUEST, b""
                key_id, key = self.pair.take_new_key(self.side, bits)
                return ml.SUCCESS, bytes(key_id) + bytes((len(key),)) + bytes(key)
            key = self.pair.take_key_by_id(self.side, bytes(body))  # GET_KEY_BY_ID
            return ml.SUCCESS, bytes((len(key),)) + bytes(key)
        except LinkError as e:
            return e.status, b""
        except qkd_errors.QkdError as e:
            return status_of(e), b""

    def _open_connect(self, body):
        # ksid(16) | len | source | len | destination | QoS (26)
        n = len(body)
        if n < 18:
            return self._bad_length()
        slen = body[16]
        if 17 + slen >= n or slen > ml.MAX_NAME:
            return self._bad_length()
        dlen = body[17 + slen]
        qos_at = 18 + slen + dlen
        if dlen > ml.MAX_NAME or qos_at + _QOS.size != n:
            return self._bad_length()
        source = bytes(body[17 : 17 + slen])
        destination = bytes(body[18 + slen : qos_at])
        chunk, max_bps, min_bps, _jitter, _prio, _timeout, _ttl = _QOS.unpack_from(body, qos_at)
        status = self.pair.status(self.side)
        if status["link_state"] != qkd_pair.LINK_UP:
            return ml.NO_QKD_CONNECTION, b""
        if not status["min_key_size"] <= chunk * 8 <= min(status["max_key_size"], ml.MAX_KEY * 8) \
                or min_bps > status["secret_key_rate_bps"]:
            return ml.QOS_NOT_MET, b""
        try:
            ksid, chunk, code = self.streams.open(self.side, bytes(body[0:16]), chunk, source, destination)
        except LinkError as e:
            return e.status, b""
        return code, ksid + struct.pack(">H", chunk)

    def _bad_length(self):
        self.rx.reject(ml.REJ_LENGTH)
        return ml.BAD_REQUEST, b""

    def _status_body(self):
        s = self.pair.status(self.side)
        return struct.pack(
            ">BBHIIIII",
            PROTOCOL_VERSION,
            LINK_STATES.get(s["link_state"], ml.LINK_ALARM),
            _clamp(s["key_size"], 0xFFFF),
            _clamp(s["stored_key_count"], 0xFFFFFFFF),
            _clamp(s["max_key_count"], 0xFFFFFFFF),
            _clamp(round(s["qber"] * 1e6), 0xFFFFFFFF),
            _clamp(s["secret_key_rate_bps"], 0xFFFFFFFF),
            _clamp(self.rx.rejected(), 0xFFFFFFFF),
        )


def _clamp(x, hi):
    return max(0, min(int(x), hi))
