# The messages of the optical-module link (docs/optical-module-protocol.md,
# section 4) as the agent sees them: request payloads packed into a frame
# buffer, response payloads parsed into a Result. Framing is module_link's;
# sequence numbers, timers and retries are module_client's.
import struct

from keyagent.optical import link as ml


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


def parse_response(request, seq, f, n):
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
        r.key = bytearray(memoryview(f)[24:n])  # no slice copy of a key left behind
    elif request == ml.GET_NEW_KEY:
        if body < 17 or f[19] > ml.MAX_KEY or body != 17 + f[19]:
            return None
        r.key_id = bytes(f[3:19])
        r.key = bytearray(memoryview(f)[20:n])
    elif request == ml.GET_KEY_BY_ID:
        if body < 1 or f[3] > ml.MAX_KEY or body != 1 + f[3]:
            return None
        r.key = bytearray(memoryview(f)[4:n])
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


# Request payloads, written into raw at offset 2 (after type and seq); each
# returns the frame length without CRC. Bad arguments raise ValueError.


def pack_empty(raw):
    # STATUS: no payload.
    return 2


def pack_id(raw, ident):
    # CLOSE, GET_KEY_BY_ID: a 16-byte ID.
    return _put_id(raw, 2, ident)


def pack_get_key(raw, ksid, index):
    if not 0 <= index <= 0xFFFFFFFF:
        raise ValueError("index must fit 32 bits")
    o = _put_id(raw, 2, ksid)
    struct.pack_into(">I", raw, o, index)
    return o + 4


def pack_key_size(raw, size_bits):
    if size_bits % 8 or not 8 <= size_bits <= ml.MAX_KEY * 8:
        raise ValueError("size_bits must be a multiple of 8 in 8..%d" % (ml.MAX_KEY * 8))
    struct.pack_into(">H", raw, 2, size_bits)
    return 4


def pack_open_connect(raw, source, destination, qos=None, ksid=None):
    src = _text(source)
    dst = _text(destination)
    q = qos or QoS()
    if not 1 <= q.key_chunk_size <= ml.MAX_KEY:
        raise ValueError("key_chunk_size must be 1..%d bytes" % ml.MAX_KEY)
    o = _put_id(raw, 2, ksid if ksid is not None else bytes(ml.ID_LEN))
    raw[o] = len(src)
    raw[o + 1 : o + 1 + len(src)] = src
    o += 1 + len(src)
    raw[o] = len(dst)
    raw[o + 1 : o + 1 + len(dst)] = dst
    o += 1 + len(dst)
    struct.pack_into(">HIIIIII", raw, o, q.key_chunk_size, q.max_bps, q.min_bps, q.jitter,
                     q.priority, q.timeout_ms, q.ttl_s)
    return o + 26
