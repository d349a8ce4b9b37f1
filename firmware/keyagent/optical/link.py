# Framing of the optical-module UART link (docs/optical-module-protocol.md):
# every frame is [type][seq][payload][CRC-32, big-endian], COBS-encoded and
# ended by a 0x00 delimiter. A receiver resynchronises at the next 0x00 after
# line noise. Sans-I/O: bytes in, frames out; the receive buffer is fixed, and
# every frame it drops is counted by reason, never raised.
import sys

from keyagent.compat import const
from keyagent import features

# Message types (requests; a response has the request's type | RESPONSE; a
# retransmitted request has type | RETRY).
STATUS = const(0x01)
OPEN_CONNECT = const(0x02)
GET_KEY = const(0x03)
CLOSE = const(0x04)
GET_NEW_KEY = const(0x05)
GET_KEY_BY_ID = const(0x06)
RESPONSE = const(0x80)
RETRY = const(0x40)  # set in a retransmitted request's type

# Status codes: ETSI GS QKD 004 V2.1.1 numbering, then this link's own (>= 0x80).
SUCCESS = const(0)
PEER_NOT_CONNECTED = const(1)  # OPEN_CONNECT succeeded, peer has not opened yet
INSUFFICIENT_KEY = const(2)
PEER_APP_NOT_CONNECTED = const(3)
NO_QKD_CONNECTION = const(4)
KSID_IN_USE = const(5)
TIMEOUT = const(6)
QOS_NOT_MET = const(7)
METADATA_TOO_SMALL = const(8)
KEY_ID_UNKNOWN = const(0x80)
BAD_REQUEST = const(0x81)
KSID_UNKNOWN = const(0x82)

STATUS_NAMES = {
    0: "success", 1: "peer not connected", 2: "insufficient key",
    3: "peer application not connected", 4: "no QKD connection",
    5: "KSID in use", 6: "timeout", 7: "QoS not met", 8: "metadata too small",
    0x80: "key ID unknown", 0x81: "bad request", 0x82: "KSID unknown",
}

# STATUS link state.
LINK_UP = const(0)
LINK_ALARM = const(1)  # QBER above the abort threshold: no keys issued
LINK_NO_KEY_RATE = const(2)  # the link distils no key (too long, too lossy)
LINK_PEER_DISCONNECTED = const(3)
LINK_UNPLUGGED = const(4)
LINK_NAMES = ("up", "alarm", "no key rate", "peer disconnected", "unplugged")

# Sizes (bytes).
ID_LEN = const(16)  # key_stream_ID and key ID
MAX_KEY = const(64)  # 512-bit keys at most
MAX_NAME = const(32)  # OPEN_CONNECT source / destination
MAX_PAYLOAD = const(120)
HEADER = const(2)  # type, seq
CRC_LEN = const(4)
MAX_FRAME = const(126)  # HEADER + MAX_PAYLOAD + CRC_LEN, before COBS
MAX_WIRE = const(127)  # MAX_FRAME + 1 COBS code byte, without the delimiter

# Reasons a received frame is dropped; counters are indexed by these.
REJ_OVERSIZE = const(0)  # more than MAX_WIRE bytes before a delimiter
REJ_COBS = const(1)  # a COBS code byte points past the end of the frame
REJ_SHORT = const(2)  # fewer than HEADER + CRC_LEN bytes after decoding
REJ_CRC = const(3)
REJ_TYPE = const(4)  # unknown type, or a request where a response belongs
REJ_LENGTH = const(5)  # payload length does not fit the type
REJ_UNSOLICITED = const(6)  # a response nobody is waiting for (late duplicates)
REJ_COUNT = const(7)
REJ_NAMES = ("oversize", "cobs", "short", "crc", "type", "length", "unsolicited")

# CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) with a 16-entry table split
# in 16-bit halves: on a 32-bit MCU every intermediate stays a small int, so
# the plain version allocates nothing per byte.
_LO = (0x0000, 0x1064, 0x20C8, 0x30AC, 0x4190, 0x51F4, 0x6158, 0x713C,
       0x8320, 0x9344, 0xA3E8, 0xB38C, 0xC2B0, 0xD2D4, 0xE278, 0xF21C)
_HI = (0x0000, 0x1DB7, 0x3B6E, 0x26D9, 0x76DC, 0x6B6B, 0x4DB2, 0x5005,
       0xEDB8, 0xF00F, 0xD6D6, 0xCB61, 0x9B64, 0x86D3, 0xA00A, 0xBDBD)


def _crc32_plain_into(buf, n, out, off):
    lo = 0xFFFF
    hi = 0xFFFF
    for i in range(n):
        lo ^= buf[i]
        t = lo & 15
        lo = ((lo >> 4) | ((hi & 15) << 12)) ^ _LO[t]
        hi = (hi >> 4) ^ _HI[t]
        t = lo & 15
        lo = ((lo >> 4) | ((hi & 15) << 12)) ^ _LO[t]
        hi = (hi >> 4) ^ _HI[t]
    hi ^= 0xFFFF
    lo ^= 0xFFFF
    out[off] = hi >> 8
    out[off + 1] = hi & 0xFF
    out[off + 2] = lo >> 8
    out[off + 3] = lo & 0xFF


def _crc32_binascii_into(buf, n, out, off):
    c = _crc32(memoryview(buf)[0:n])
    out[off] = (c >> 24) & 0xFF
    out[off + 1] = (c >> 16) & 0xFF
    out[off + 2] = (c >> 8) & 0xFF
    out[off + 3] = c & 0xFF


# CPython: binascii's C code. MicroPython: the viper version (no allocation
# at all), else the plain one; --plain test runs take the plain one.
crc32_into = _crc32_plain_into
if sys.implementation.name != "micropython":
    from binascii import crc32 as _crc32

    crc32_into = _crc32_binascii_into
elif features.NATIVE:
    try:
        from keyagent.optical.crc32_viper import crc32_into  # noqa: F811
    except (ImportError, SyntaxError, NameError):
        pass  # a build without the viper emitter


def crc32(data):
    # The CRC as an int, for tests and tools; the frame path uses crc32_into.
    out = bytearray(4)
    crc32_into(data, len(data), out, 0)
    return (out[0] << 24) | (out[1] << 16) | (out[2] << 8) | out[3]


def cobs_encode_into(src, n, dst, off):
    # COBS-encodes src[0:n] into dst at off (needs n + n // 254 + 1 bytes);
    # returns the offset after it. No delimiter is written.
    code_at = off
    o = off + 1
    code = 1
    for i in range(n):
        b = src[i]
        if b:
            dst[o] = b
            o += 1
            code += 1
            if code != 0xFF:
                continue
            dst[code_at] = code
            if i == n - 1:
                return o  # a full block ends the data: no code byte after it
        else:
            dst[code_at] = code
        code_at = o
        o += 1
        code = 1
    dst[code_at] = code
    return o


def cobs_decode_in_place(buf, n):
    # Decodes buf[0:n] (no delimiter) in place; returns the decoded length,
    # or -1 if a code byte is zero or runs past the end.
    i = 0
    o = 0
    while i < n:
        code = buf[i]
        if code == 0:
            return -1
        end = i + code
        if end > n:
            return -1
        i += 1
        while i < end:
            buf[o] = buf[i]
            o += 1
            i += 1
        if code != 0xFF and i < n:
            buf[o] = 0
            o += 1
    return o


def encode_frame(raw, n, out, off):
    # raw[0:n] holds type, seq and payload, with CRC_LEN spare bytes after it.
    # Appends the CRC, COBS-encodes into out at off and ends with 0x00;
    # returns the offset after the delimiter.
    if n < HEADER or n + CRC_LEN > MAX_FRAME:
        raise ValueError("frame length")
    crc32_into(raw, n, raw, n)
    o = cobs_encode_into(raw, n + CRC_LEN, out, off)
    out[o] = 0
    return o + 1


class FrameReceiver:
    """Collects bytes into frames. feed() consumes input up to the end of
    one valid frame; then `length` > 0 and frame[0:length] holds type, seq
    and payload (CRC stripped) until the next feed()."""

    def __init__(self):
        self.buf = bytearray(MAX_WIRE)
        self.frame = memoryview(self.buf)
        self.rejects = [0] * REJ_COUNT
        self.frames = 0
        self.length = 0
        self._n = 0
        self._overflow = False
        self._crc = bytearray(CRC_LEN)

    def reject(self, reason):
        self.rejects[reason] += 1

    def rejected(self):
        return sum(self.rejects)

    def feed(self, data, pos=0, end=-1):
        # Consumes data[pos:end]; returns the position after the last byte
        # consumed. Stops right after a valid frame's delimiter.
        if end < 0:
            end = len(data)
        self.length = 0
        buf = self.buf
        while pos < end:
            b = data[pos]
            pos += 1
            if b:
                n = self._n
                if n < MAX_WIRE:
                    buf[n] = b
                    self._n = n + 1
                elif not self._overflow:
                    self._overflow = True
                    self.rejects[REJ_OVERSIZE] += 1
                continue
            if self._overflow or self._n == 0:
                # The end of an oversize frame, or an empty one (idle fill).
                self._overflow = False
                self._n = 0
                continue
            n = self._finish()
            self._n = 0
            if n > 0:
                self.length = n
                self.frames += 1
                return pos
        return pos

    def _finish(self):
        buf = self.buf
        n = cobs_decode_in_place(buf, self._n)
        if n < 0:
            self.rejects[REJ_COBS] += 1
            return 0
        if n < HEADER + CRC_LEN:
            self.rejects[REJ_SHORT] += 1
            return 0
        n -= CRC_LEN
        crc = self._crc
        crc32_into(buf, n, crc, 0)
        if crc[0] != buf[n] or crc[1] != buf[n + 1] or crc[2] != buf[n + 2] or crc[3] != buf[n + 3]:
            self.rejects[REJ_CRC] += 1
            return 0
        return n
