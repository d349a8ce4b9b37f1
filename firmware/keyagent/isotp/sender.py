# The sending side of ISO 15765-2 (ISO-TP), sans-I/O.
#
# Times are integer ticks of tick_us microseconds (default 1000: ms). The
# caller's clock is read truncated, so a gap of STmin is kept as at least
# one tick more than STmin: consecutive frames never go out faster than the
# receiver asked, whatever the clock's phase (ISO 15765-2 9.6.5.4).
#
#   send(data, now_ms)        queue one message (ValueError when busy)
#   poll(now_ms)              the next frame to put on the bus now, or None;
#                             call until None, then again at next_deadline_ms()
#   on_frame(fc, now_ms)      a flow control frame from the receiver
#
# States: idle -> sf -> idle, or idle -> ff -> wait_fc -> cf -> (wait_fc
# -> cf ...) -> idle. A transfer ends in `sent` += 1 or in `failed` += 1
# with the reason in last_error and counted in `rejected`: timeout_bs (no FC
# within N_Bs), overflow (FC OVFLW), wft_overrun (more FC WAIT than
# wft_max), bad_fs (unknown flow status). FCs that arrive when none is
# awaited (unexpected_fc) or are too short (short_fc) are counted and ignored.
# peer_fc=(block size, STmin): the only flow control the peer ever sends (a
# protocol that fixes it, as the rekey protocol does); any other FC (WAIT,
# OVFLW, other parameters) is then forged, counted as ignored_fc and
# ignored, so it can neither abort nor slow the transfer.
from keyagent.isotp import frames as F
from keyagent.compat import const

_IDLE = const(0)
_SF = const(1)
_FF = const(2)
_WAIT_FC = const(3)
_CF = const(4)

_MAX_MESSAGE = const(0xFFFFFFFF)


class IsoTpSender:
    def __init__(self, fd=False, tx_dl=None, padding=None, n_bs_ms=1000, wft_max=8, peer_fc=None, tick_us=1000):
        if tx_dl is None:
            tx_dl = 64 if fd else 8
        if not F.valid_tx_dl(fd, tx_dl):
            raise ValueError("TX_DL is 8 for classic CAN, 8..64 (a CAN FD length) for CAN FD")
        if padding is not None and not 0 <= padding <= 0xFF:
            raise ValueError("padding is a byte or None")
        self.fd = fd
        self.tx_dl = tx_dl
        self.padding = padding
        self.n_bs_ms = n_bs_ms
        self.wft_max = wft_max
        self.peer_fc = peer_fc
        self.tick_us = tick_us
        self._frame = bytearray(tx_dl)
        self._state = _IDLE
        self._data = b""
        self._off = 0
        self._sn = 0
        self._due = 0
        self._gap = 0
        self._block_left = 0
        self._block_size = 0
        self._waits = 0
        self.stmin_us = 0  # the peer's last STmin, for callers with a finer clock
        self.sent = 0
        self.failed = 0
        self.last_error = None
        self.rejected = {}

    def busy(self):
        return self._state != _IDLE

    def send(self, data, now_ms):
        # data is read while frames go out: do not change it until not busy().
        if self._state != _IDLE:
            raise ValueError("a message is still being sent")
        if not 0 < len(data) <= _MAX_MESSAGE:
            raise ValueError("ISO-TP messages are 1..2**32-1 bytes")
        self._data = data
        self._off = 0
        self._due = now_ms
        self._state = _SF if len(data) <= F.sf_capacity(self.tx_dl) else _FF

    def next_deadline_ms(self):
        return None if self._state == _IDLE else self._due

    def _fail(self, reason):
        self._state = _IDLE
        self._data = b""
        self.failed += 1
        self.last_error = reason
        F.count(self.rejected, reason)

    def poll(self, now_ms):
        st = self._state
        if st == _IDLE or now_ms - self._due < 0:
            return None
        if st == _WAIT_FC:
            self._fail("timeout_bs")
            return None
        if st == _SF:
            return self._single()
        if st == _FF:
            return self._first(now_ms)
        return self._consecutive(now_ms)

    def _single(self):
        buf, data = self._frame, self._data
        n = len(data)
        if n <= 7:
            buf[0] = n
            head = 1
        else:
            buf[0] = 0
            buf[1] = n
            head = 2
        buf[head : head + n] = data
        self._done()
        return F.finish(buf, head + n, self.padding)

    def _first(self, now_ms):
        buf, data = self._frame, self._data
        n = len(data)
        if n <= F.FF_DL_12BIT_MAX:
            buf[0] = 0x10 | (n >> 8)
            buf[1] = n & 0xFF
            head = 2
        else:
            buf[0] = 0x10
            buf[1] = 0
            buf[2] = (n >> 24) & 0xFF
            buf[3] = (n >> 16) & 0xFF
            buf[4] = (n >> 8) & 0xFF
            buf[5] = n & 0xFF
            head = 6
        take = self.tx_dl - head
        buf[head : self.tx_dl] = data[0:take]
        self._off = take
        self._sn = 1
        self._waits = 0
        self._await_fc(now_ms)
        return bytes(buf[0 : self.tx_dl])

    def _await_fc(self, now_ms):
        self._state = _WAIT_FC
        self._due = now_ms + self.n_bs_ms * 1000 // self.tick_us

    def _consecutive(self, now_ms):
        buf, data, off = self._frame, self._data, self._off
        take = min(self.tx_dl - 1, len(data) - off)
        buf[0] = 0x20 | self._sn
        buf[1 : 1 + take] = data[off : off + take]
        self._off = off + take
        self._sn = (self._sn + 1) & 0x0F
        frame = F.finish(buf, 1 + take, self.padding)
        if self._off >= len(data):
            self._done()
        elif self._block_size and self._block_left == 1:
            self._await_fc(now_ms)
        else:
            self._block_left -= 1
            self._due = now_ms + self._gap
        return frame

    def _done(self):
        self._state = _IDLE
        self._data = b""
        self.sent += 1

    def on_frame(self, frame, now_ms):
        if len(frame) == 0 or frame[0] >> 4 != F.PCI_FC:
            return
        if self._state != _WAIT_FC:
            F.count(self.rejected, "unexpected_fc")
            return
        if len(frame) < 3:
            F.count(self.rejected, "short_fc")
            return
        status = frame[0] & 0x0F
        fixed = self.peer_fc
        if fixed is not None and (status != F.FS_CTS or frame[1] != fixed[0] or frame[2] != fixed[1]):
            F.count(self.rejected, "ignored_fc")
            return
        if status == F.FS_CTS:
            self._block_size = frame[1]
            self._block_left = frame[1]
            us = self.stmin_us = F.stmin_us(frame[2])
            self._gap = 0 if us == 0 else (us + self.tick_us - 1) // self.tick_us + 1
            self._state = _CF
            self._due = now_ms  # the first CF of a block may go at once
        elif status == F.FS_WAIT:
            self._waits += 1
            if self._waits > self.wft_max:
                self._fail("wft_overrun")
            else:
                self._await_fc(now_ms)
        elif status == F.FS_OVFLW:
            self._fail("overflow")
        else:
            self._fail("bad_fs")
