# ISO 15765-2 (ISO-TP) transport, sans-I/O: the receiving side here, the
# sending side in keyagent.isotp.sender, the frame layout in
# keyagent.isotp.frames, and IsoTpConnection (below) joining one of each.
#
# The caller feeds the CAN data of every frame received on the connection's
# receive ID with the current time in integer milliseconds, sends the frames
# it gets back on the transmit ID, and collects completed messages. Nothing
# the peer sends raises: bad frames are counted in `rejected` by reason and
# ignored (or end the reception they break, as ISO 15765-2 says).
#
# Reception reasons counted: empty, bad_length, bad_pci, bad_sf, bad_ff,
# overflow (FF longer than max_size, answered with FC OVFLW), unexpected_cf,
# wrong_sn, bad_cf_length, timeout_cr, interrupted (a new SF/FF ended an
# unfinished reception), unread_overwritten.
from keyagent.isotp import frames as F
from keyagent.isotp.sender import IsoTpSender  # noqa: F401  (re-exported)


class IsoTpReceiver:
    def __init__(self, max_size=4095, fd=False, block_size=0, stmin=0, padding=None, n_cr_ms=1000):
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        if not 0 <= block_size <= 0xFF or not F.valid_stmin(stmin):
            raise ValueError("block size is 0..255, STmin 0..0x7f or 0xf1..0xf9")
        if padding is not None and not 0 <= padding <= 0xFF:
            raise ValueError("padding is a byte or None")
        self.max_size = max_size
        self.fd = fd
        self.block_size = block_size
        self.stmin = stmin
        self.padding = padding
        self.n_cr_ms = n_cr_ms
        self._buf = bytearray(max_size)  # the one receive buffer, preallocated
        self._fc = bytearray(8)
        self._active = False
        self._length = 0
        self._got = 0
        self._sn = 0
        self._rx_dl = 0
        self._block_left = 0
        self._deadline = 0
        self._ready = -1
        self.received = 0
        self.rejected = {}

    def _reject(self, reason):
        F.count(self.rejected, reason)
        return None

    def next_deadline_ms(self):
        return self._deadline if self._active else None

    def poll(self, now_ms):
        # N_Cr: the sender went quiet in the middle of a message.
        if self._active and now_ms - self._deadline >= 0:
            self._active = False
            self._reject("timeout_cr")

    def pop_message(self):
        # The message completed by the last on_frame, as bytes, or None.
        n = self._ready
        if n < 0:
            return None
        self._ready = -1
        return bytes(self._buf[0:n])

    def _complete(self, n):
        self._active = False
        self._ready = n
        self.received += 1

    def _start(self):
        # A new SF/FF: whatever was unfinished or unread is lost.
        if self._active:
            self._active = False
            self._reject("interrupted")
        if self._ready >= 0:
            self._ready = -1
            self._reject("unread_overwritten")

    def on_frame(self, frame, now_ms):
        # Returns a flow control frame to send, or None.
        n = len(frame)
        if n == 0:
            return self._reject("empty")
        if n > 64 or (n > 8 and (not self.fd or n not in F.FD_LENGTHS)):
            return self._reject("bad_length")
        pci = frame[0] >> 4
        if pci == F.PCI_SF:
            return self._single(frame, n)
        if pci == F.PCI_FF:
            return self._first(frame, n, now_ms)
        if pci == F.PCI_CF:
            return self._consecutive(frame, n, now_ms)
        if pci == F.PCI_FC:
            return None  # for the sender on this connection, not ours
        return self._reject("bad_pci")

    def _single(self, frame, n):
        dl = frame[0] & 0x0F
        head = 1
        if n > 8:
            if dl != 0:  # CAN_DL > 8 must use the escape form
                return self._reject("bad_sf")
            dl = frame[1] if n > 1 else 0
            head = 2
            if dl <= 7:  # would have fitted the short form
                return self._reject("bad_sf")
        if dl == 0 or dl > n - head:
            return self._reject("bad_sf")
        if dl > self.max_size:
            return self._reject("overflow")
        self._start()
        self._buf[0:dl] = frame[head : head + dl]
        self._complete(dl)
        return None

    def _first(self, frame, n, now_ms):
        if n < 8:
            return self._reject("bad_ff")
        length = ((frame[0] & 0x0F) << 8) | frame[1]
        head = 2
        if length == 0:
            length = (frame[2] << 24) | (frame[3] << 16) | (frame[4] << 8) | frame[5]
            head = 6
            if length <= F.FF_DL_12BIT_MAX:
                return self._reject("bad_ff")
        # An FF must carry more than a single frame of this CAN_DL could.
        if length <= F.sf_capacity(n):
            return self._reject("bad_ff")
        self._start()
        if length > self.max_size:
            self._reject("overflow")
            return F.flow_control(self._fc, F.FS_OVFLW, 0, 0, self.padding)
        take = n - head
        self._buf[0:take] = frame[head:n]
        self._active = True
        self._length = length
        self._got = take
        self._sn = 1
        self._rx_dl = n
        self._block_left = self.block_size
        self._deadline = now_ms + self.n_cr_ms
        return F.flow_control(self._fc, F.FS_CTS, self.block_size, self.stmin, self.padding)

    def _consecutive(self, frame, n, now_ms):
        if not self._active:
            return self._reject("unexpected_cf")
        if frame[0] & 0x0F != self._sn:
            self._active = False
            return self._reject("wrong_sn")
        remaining = self._length - self._got
        take = self._rx_dl - 1
        if remaining <= take:
            take = remaining
            ok = n > take and n <= self._rx_dl
        else:
            ok = n == self._rx_dl
        if not ok:
            self._active = False
            return self._reject("bad_cf_length")
        got = self._got
        self._buf[got : got + take] = frame[1 : 1 + take]
        self._got = got + take
        self._sn = (self._sn + 1) & 0x0F
        if self._got == self._length:
            self._complete(self._length)
            return None
        self._deadline = now_ms + self.n_cr_ms
        if self.block_size:
            self._block_left -= 1
            if self._block_left == 0:
                self._block_left = self.block_size
                return F.flow_control(self._fc, F.FS_CTS, self.block_size, self.stmin, self.padding)
        return None


class IsoTpConnection:
    # One sender and one receiver sharing a CAN ID pair: frames received on
    # the receive ID go to the receiver, except flow control frames, which
    # answer our own sender. Either side may be given as a callable that
    # makes it when first needed (new_sender / new_receiver), so a
    # connection that only sends or only receives holds one side's buffers.

    def __init__(self, sender=None, receiver=None, new_sender=None, new_receiver=None):
        self.sender = sender
        self.receiver = receiver
        self._new_sender = new_sender
        self._new_receiver = new_receiver
        self._out = []

    def sending(self):
        return self.sender is not None and self.sender.busy()

    def send(self, data, now_ms):
        if self.sender is None:
            self.sender = self._new_sender()
        self.sender.send(data, now_ms)

    def on_frame(self, frame, now_ms):
        if len(frame) and frame[0] >> 4 == F.PCI_FC:
            if self.sender is not None:
                self.sender.on_frame(frame, now_ms)
            return
        if self.receiver is None:
            self.receiver = self._new_receiver()
        fc = self.receiver.on_frame(frame, now_ms)
        if fc is not None:
            self._out.append(fc)

    def poll(self, now_ms):
        # Frames to send now, flow control first.
        if self.receiver is not None:
            self.receiver.poll(now_ms)
        out = self._out
        self._out = []
        while self.sender is not None:
            frame = self.sender.poll(now_ms)
            if frame is None:
                break
            out.append(frame)
        return out

    def pop_message(self):
        return self.receiver.pop_message() if self.receiver is not None else None

    def next_deadline_ms(self):
        a = self.sender.next_deadline_ms() if self.sender is not None else None
        b = self.receiver.next_deadline_ms() if self.receiver is not None else None
        if a is None:
            return b
        if b is None:
            return a
        return a if a - b <= 0 else b
