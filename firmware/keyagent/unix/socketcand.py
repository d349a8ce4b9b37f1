# The socketcand ASCII protocol, sans-I/O: a bounded parser for both
# directions and formatters. Elements are "< ... >"; raw mode uses
#   server -> client  < hi >  < ok >  < error TEXT >
#                     < frame ID SECS.USECS HEXDATA >          (data contiguous)
#                     < fdframe ID FLAGS SECS.USECS HEXDATA >  (CAN FD)
#   client -> server  < open CHANNEL >  < rawmode >  < echo >
#                     < send ID LEN B0 B1 ... >                (LEN decimal, bytes hex)
#                     < fdsend ID FLAGS LEN B0 B1 ... >
# ID is 3 hex digits (11-bit) or 8 (29-bit). FLAGS are the Linux canfd_frame
# flags in hex (0x01 BRS, 0x02 ESI). This matches linux-can/socketcand and
# python-can's socketcand interface (which sends `< send >` with bytes as %x
# and reads `< frame >` expecting contiguous data); python-can 4.6 has no FD.
#
# Peer garbage never raises: it becomes a counted rejection (rejections[REASON])
# and next() returns EV_REJECT with .reason set. The buffer is fixed-size.
import binascii

from keyagent.canfd import FD_LENGTHS
from keyagent.compat import const

EV_NONE = const(0)
EV_HI = const(1)
EV_OK = const(2)
EV_ERROR = const(3)
EV_OPEN = const(4)
EV_MODE = const(5)  # rawmode / bcmmode / controlmode / isotpmode: .text is the mode
EV_ECHO = const(6)
EV_FRAME = const(7)  # frame / fdframe (server -> client)
EV_SEND = const(8)  # send / fdsend (client -> server)
EV_REJECT = const(9)

REJ_GARBAGE = const(0)  # bytes outside < ... >
REJ_TOO_LONG = const(1)  # element longer than max_element
REJ_SYNTAX = const(2)  # known command, malformed fields
REJ_UNKNOWN = const(3)  # unknown command word
REJ_COUNT = const(4)

FLAG_BRS = const(0x01)
FLAG_ESI = const(0x02)

_LT = const(0x3C)
_GT = const(0x3E)
_MODES = (b"rawmode", b"bcmmode", b"controlmode", b"isotpmode")


def _hex(tok, max_digits):
    # Strict hex (int() would also take "0x", "_" and signs).
    n = len(tok)
    if n == 0 or n > max_digits:
        return -1
    v = 0
    for c in tok:
        if 0x30 <= c <= 0x39:
            d = c - 0x30
        elif 0x41 <= c <= 0x46:
            d = c - 0x37
        elif 0x61 <= c <= 0x66:
            d = c - 0x57
        else:
            return -1
        v = (v << 4) | d
    return v


def _dec(tok, max_digits):
    n = len(tok)
    if n == 0 or n > max_digits:
        return -1
    v = 0
    for c in tok:
        if not 0x30 <= c <= 0x39:
            return -1
        v = v * 10 + c - 0x30
    return v


class Parser:
    """Feed bytes, then call next() until EV_NONE. After an event, fields
    can_id, ext, fd, flags, length, data (first `length` bytes valid), secs,
    usecs and text describe it."""

    def __init__(self, capacity=512, max_element=300):
        self._buf = bytearray(capacity)
        self._n = 0
        self.max_element = max_element
        self.rejections = [0] * REJ_COUNT
        self.data = bytearray(64)
        self.reason = -1
        self.can_id = 0
        self.ext = False
        self.fd = False
        self.flags = 0
        self.length = 0
        self.secs = 0
        self.usecs = 0
        self.text = b""

    def space(self):
        return len(self._buf) - self._n

    def feed(self, data):
        """Copy as much of data as fits; returns the number of bytes taken.
        Call next() until EV_NONE, then feed the rest."""
        take = min(len(data), len(self._buf) - self._n)
        self._buf[self._n : self._n + take] = data[:take]
        self._n += take
        return take

    def _reject(self, reason):
        self.rejections[reason] += 1
        self.reason = reason
        return EV_REJECT

    def _consume(self, upto):
        rest = self._n - upto
        if rest > 0:
            self._buf[0:rest] = self._buf[upto : self._n]
        self._n = rest if rest > 0 else 0

    def next(self):
        buf = self._buf
        n = self._n
        if n == 0:
            return EV_NONE
        start = buf.find(b"<", 0, n)
        if start < 0:
            garbage = bytes(buf[0:n]).strip()
            self._n = 0
            return self._reject(REJ_GARBAGE) if garbage else EV_NONE
        if start > 0 and bytes(buf[0:start]).strip():
            self._consume(start)
            return self._reject(REJ_GARBAGE)
        end = buf.find(b">", start, n)
        again = buf.find(b"<", start + 1, n if end < 0 else end)
        if again >= 0:  # a new element starts before this one closed
            self._consume(again)
            return self._reject(REJ_SYNTAX)
        if end < 0:
            if n - start > self.max_element:
                self._n = 0
                return self._reject(REJ_TOO_LONG)
            self._consume(start)
            return EV_NONE
        if end + 1 - start > self.max_element:
            self._consume(end + 1)
            return self._reject(REJ_TOO_LONG)
        toks = bytes(buf[start + 1 : end]).split()
        self._consume(end + 1)
        return self._element(toks)

    def _element(self, toks):
        if not toks:
            return self._reject(REJ_SYNTAX)
        word = toks[0]
        argc = len(toks) - 1
        if word == b"hi" or word == b"ok" or word == b"echo":
            if argc:
                return self._reject(REJ_SYNTAX)
            return EV_HI if word == b"hi" else (EV_OK if word == b"ok" else EV_ECHO)
        if word in _MODES:
            if argc:
                return self._reject(REJ_SYNTAX)
            self.text = word
            return EV_MODE
        if word == b"open":
            if argc != 1:
                return self._reject(REJ_SYNTAX)
            self.text = toks[1]
            return EV_OPEN
        if word == b"error":
            self.text = b" ".join(toks[1:])
            return EV_ERROR
        if word == b"frame" or word == b"fdframe":
            return self._frame(toks, word == b"fdframe")
        if word == b"send" or word == b"fdsend":
            return self._send(toks, word == b"fdsend")
        return self._reject(REJ_UNKNOWN)

    def _id(self, tok):
        n = len(tok)
        if n == 8:
            v = _hex(tok, 8)
            self.ext = True
            return v if v <= 0x1FFFFFFF else -1
        if n <= 3:
            v = _hex(tok, 3)
            self.ext = False
            return v if v <= 0x7FF else -1
        return -1

    def _frame(self, toks, fd):
        i = 2 if fd else 1
        if len(toks) < i + 2:
            return self._reject(REJ_SYNTAX)
        can_id = self._id(toks[1])
        flags = _hex(toks[2], 2) if fd else 0
        ts = toks[i + 1]
        dot = ts.find(b".")
        secs = _dec(ts[:dot], 12) if dot > 0 else -1
        usecs = _dec(ts[dot + 1 :], 6) if dot > 0 else -1
        if can_id < 0 or flags < 0 or secs < 0 or usecs < 0:
            return self._reject(REJ_SYNTAX)
        usecs *= (1, 100000, 10000, 1000, 100, 10, 1)[len(ts) - dot - 1]
        # data: contiguous hex (raw mode); also accept it split into tokens
        n = 0
        cap = 64 if fd else 8
        for tok in toks[i + 2 :]:
            if len(tok) & 1:
                return self._reject(REJ_SYNTAX)
            for k in range(0, len(tok), 2):
                b = _hex(tok[k : k + 2], 2)
                if b < 0 or n >= cap:
                    return self._reject(REJ_SYNTAX)
                self.data[n] = b
                n += 1
        if fd and n not in FD_LENGTHS:
            return self._reject(REJ_SYNTAX)
        self.can_id = can_id
        self.fd = fd
        self.flags = flags
        self.length = n
        self.secs = secs
        self.usecs = usecs
        return EV_FRAME

    def _send(self, toks, fd):
        i = 2 if fd else 1  # index of the token before LEN
        if len(toks) < i + 2:
            return self._reject(REJ_SYNTAX)
        can_id = self._id(toks[1])
        flags = _hex(toks[2], 2) if fd else 0
        n = _dec(toks[i + 1], 2)
        if can_id < 0 or flags < 0 or n < 0 or n > (64 if fd else 8) or len(toks) != i + 2 + n:
            return self._reject(REJ_SYNTAX)
        if fd and n not in FD_LENGTHS:
            return self._reject(REJ_SYNTAX)
        for k in range(n):
            b = _hex(toks[i + 2 + k], 2)
            if b < 0:
                return self._reject(REJ_SYNTAX)
            self.data[k] = b
        self.can_id = can_id
        self.fd = fd
        self.flags = flags
        self.length = n
        return EV_SEND


def _idtext(can_id, ext):
    return ("%08X" % (can_id & 0x1FFFFFFF)) if ext else ("%03X" % (can_id & 0x7FF))


def fmt_simple(word):
    """b"< hi >", b"< ok >", b"< rawmode >", b"< echo >" ..."""
    return b"< " + word + b" >"


def fmt_open(channel):
    return b"< open " + channel + b" >"


def fmt_error(text):
    return b"< error " + text + b" >"


def fmt_send(can_id, ext, data, n, fd=False, flags=0):
    """< send ID LEN B.. > or < fdsend ID FLAGS LEN B.. > for data[:n]."""
    if fd:
        head = "< fdsend %s %02X %d" % (_idtext(can_id, ext), flags, n)
    else:
        head = "< send %s %d" % (_idtext(can_id, ext), n)
    parts = [head.encode()]
    for k in range(n):
        parts.append(b"%02X" % data[k])
    parts.append(b">")
    return b" ".join(parts)


def fmt_frame(can_id, ext, secs, usecs, data, n, fd=False, flags=0):
    """< frame ID S.US HEX > (or fdframe), byte-compatible with socketcand raw mode."""
    if fd:
        head = "< fdframe %s %02X %d.%06d " % (_idtext(can_id, ext), flags, secs, usecs)
    else:
        head = "< frame %s %d.%06d " % (_idtext(can_id, ext), secs, usecs)
    return head.encode() + binascii.hexlify(bytes(data[:n])).upper() + b" >"
