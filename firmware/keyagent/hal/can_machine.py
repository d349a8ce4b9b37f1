# CAN through machine.CAN (MicroPython 1.28 and later; classic CAN only, the
# driver has no CAN FD yet). Same surface as keyagent.hal.can_pyb.PybCan:
# send(), poll(), start(), stop(), and frames handed to
# on_frame(can_id, data, extended) from one preallocated receive list.
#
# recv(timeout_ms) -> [can_id, data] serves keyagent.node.Node, which polls
# instead of using the interrupt.
#
# The IRQ is registered soft (hard=False): MicroPython itself schedules the
# handler outside interrupt context, so it may drain the queue directly.
# The machine module is imported inside open_bus(), or passed in.
from keyagent.hal.ticks import sleep_ms, ticks_diff, ticks_ms


class MachineCan:
    def __init__(self, can, on_frame):
        self._can = can
        self._on_frame = on_frame
        # [id, data, flags, receive errors]; recv() resizes the memoryview.
        # 64 bytes, as documented, in case the controller is an FDCAN.
        self._rx = [0, memoryview(bytearray(64)), 0, 0]
        self._frame = [0, None]  # what recv() returns, reused
        self._irq_cb = self._on_irq
        self._flag_ext = can.FLAG_EXT_ID
        self._flag_rtr = can.FLAG_RTR
        self._err_overrun = can.RECV_ERR_OVERRUN
        self._irq_rx = can.IRQ_RX
        self.rx_frames = 0
        self.rx_dropped = 0
        self.rx_overflows = 0
        self.tx_failed = 0

    def start(self):
        self._can.set_filters(None)  # receive all; the agent filters by id
        self._can.irq(self._irq_cb, self._irq_rx, False)

    def stop(self):
        self._can.irq(None)

    def _on_irq(self, can):
        # The documented pattern: read flags() until it returns 0.
        irq = can.irq()
        flags = irq.flags()
        while flags:
            if flags & self._irq_rx:
                self.poll()
            flags = irq.flags()

    def poll(self, limit=32):
        can = self._can
        rx = self._rx
        n = 0
        while n < limit:
            if can.recv(rx) is None:
                break
            n += 1
            if rx[3] & self._err_overrun:
                self.rx_overflows += 1
            flags = rx[2]
            if flags & self._flag_rtr:
                self.rx_dropped += 1
                continue
            self._on_frame(rx[0], rx[1], bool(flags & self._flag_ext))
        self.rx_frames += n
        return n

    def recv(self, timeout_ms=0):
        # Waits at most timeout_ms for one data frame: [can_id, data], the
        # same list every call, or None. machine.CAN cannot block, so this
        # checks once a millisecond.
        can = self._can
        rx = self._rx
        start = ticks_ms()
        while True:
            if can.recv(rx) is not None:
                self.rx_frames += 1
                if rx[3] & self._err_overrun:
                    self.rx_overflows += 1
                if not rx[2] & self._flag_rtr:
                    frame = self._frame
                    frame[0] = rx[0]
                    frame[1] = rx[1]
                    return frame
                self.rx_dropped += 1
            elif ticks_diff(ticks_ms(), start) >= timeout_ms:
                return None
            else:
                sleep_ms(1)

    def send(self, can_id, data, fd=False, brs=False, extended=False):
        if fd or brs:
            raise ValueError("machine.CAN has no CAN FD; use pyb.CAN")
        if len(data) > 8:
            raise ValueError("CAN payload too long")
        try:
            idx = self._can.send(can_id, data, self._flag_ext if extended else 0)
        except OSError:  # bus-off or stopped
            self.tx_failed += 1
            return False
        if idx is None:  # transmit queue full
            self.tx_failed += 1
            return False
        return True


def open_bus(cfg, on_frame, mode=None, machine=None):
    # Initialises the board's CAN controller from a checked board config with
    # its exact segments (machine.CAN derives the prescaler from bitrate).
    if machine is None:
        import machine
    CAN = machine.CAN
    nom = cfg["can"]["nominal"]
    can = CAN(
        cfg["can"]["bus"],
        nom["bitrate"],
        mode=CAN.MODE_NORMAL if mode is None else mode,
        sjw=nom["sjw"],
        tseg1=nom["bs1"],
        tseg2=nom["bs2"],
    )
    port = MachineCan(can, on_frame)
    port.start()
    return port
