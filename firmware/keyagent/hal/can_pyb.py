# CAN through MicroPython's pyb.CAN (stm32: bxCAN classic, FDCAN with FD).
#
# Received frames go to on_frame(can_id, data, extended) from poll() (or the
# rx interrupt), or one at a time from recv(timeout_ms) -> [can_id, data]
# (the interface keyagent.node.Node drives); either way data is a memoryview
# into one preallocated buffer, valid until the next frame: pyb's recv()
# fills the same five-element list every time, so no heap is allocated per
# frame. The rx callback runs in interrupt context with the heap locked; it
# only schedules drain work with micropython.schedule (both bound methods
# are made once, here, because making one allocates).
#
# The pyb module is imported inside open_bus(), or passed in, so this module
# imports on the unix port and under CPython for tests.

_REASON_OVERFLOW = 2  # rxcallback reason: a message was lost, FIFO full


class PybCan:
    def __init__(self, can, on_frame, fd=False, fifo=0, schedule=None):
        self._can = can
        self._on_frame = on_frame
        self._fd = fd
        self._fifo = fifo
        self._schedule = schedule
        # [id, extended, rtr, filter match index, data]; recv() resizes the
        # memoryview in place to the frame's length.
        self._rx = [0, False, False, 0, memoryview(bytearray(64 if fd else 8))]
        self._frame = [0, None]  # what recv() returns, reused
        self._drain_cb = self._drain
        self._irq_cb = self._on_rx_irq
        self._pending = False
        self.rx_frames = 0
        self.rx_dropped = 0  # remote frames: SecOC never uses them
        self.rx_overflows = 0
        self.tx_failed = 0

    def start(self):
        # Interrupt-driven receive; without it, call poll() from the main loop.
        self._can.rxcallback(self._fifo, self._irq_cb)

    def stop(self):
        self._can.rxcallback(self._fifo, None)

    def _on_rx_irq(self, bus, reason):
        # Interrupt context: no allocation, no frame handling here.
        if reason == _REASON_OVERFLOW:
            self.rx_overflows += 1
        if not self._pending:
            self._pending = True
            try:
                self._schedule(self._drain_cb, 0)
            except RuntimeError:
                # Schedule queue full: the next poll() from the loop drains.
                self._pending = False

    def _drain(self, _):
        self._pending = False
        self.poll()

    def poll(self, limit=32):
        # Hands up to limit waiting frames to on_frame; returns how many.
        can = self._can
        fifo = self._fifo
        rx = self._rx
        n = 0
        while n < limit and can.any(fifo):
            can.recv(fifo, rx, timeout=0)
            n += 1
            if rx[2]:
                self.rx_dropped += 1
                continue
            self._on_frame(rx[0], rx[4], rx[1])
        self.rx_frames += n
        return n

    def recv(self, timeout_ms=0):
        # Waits at most timeout_ms for one data frame: [can_id, data], the
        # same list every call, or None. Remote frames are dropped.
        can = self._can
        rx = self._rx
        while True:
            try:
                can.recv(self._fifo, rx, timeout=timeout_ms if timeout_ms > 0 else 0)
            except OSError:  # ETIMEDOUT: nothing arrived in time
                return None
            self.rx_frames += 1
            if not rx[2]:
                break
            self.rx_dropped += 1
            timeout_ms = 0
        frame = self._frame
        frame[0] = rx[0]
        frame[1] = rx[4]
        return frame

    def send(self, can_id, data, fd=False, brs=False, extended=False):
        # Queues one frame; False (and a count) when the hardware queue is
        # full or the controller is bus-off, so the caller's loop goes on.
        if (fd or brs) and not self._fd:
            raise ValueError("this CAN controller has no CAN FD")
        if len(data) > (64 if fd else 8):
            raise ValueError("CAN payload too long")
        try:
            if self._fd:
                self._can.send(data, can_id, timeout=0, extframe=extended, fdf=fd, brs=brs)
            else:
                self._can.send(data, can_id, timeout=0, extframe=extended)
        except OSError:
            self.tx_failed += 1
            return False
        return True


def init_kwargs(cfg):
    # pyb.CAN.init keyword arguments from a checked board config.
    can = cfg["can"]
    nom = can["nominal"]
    kw = {"prescaler": nom["prescaler"], "sjw": nom["sjw"], "bs1": nom["bs1"], "bs2": nom["bs2"]}
    if can["controller"] == "bxCAN":
        kw["auto_restart"] = True  # leave bus-off by the CAN protocol, not by hand
    if can["fd"]:
        data = can["data"]
        kw["brs_prescaler"] = data["prescaler"]
        kw["brs_sjw"] = data["sjw"]
        kw["brs_bs1"] = data["bs1"]
        kw["brs_bs2"] = data["bs2"]
    return kw


def open_bus(cfg, on_frame, mode=None, pyb=None, schedule=None, fifo=0):
    # Initialises the board's CAN controller, accepts every frame into fifo
    # (the agent filters by id itself) and returns a started PybCan.
    if pyb is None:
        import pyb
    if schedule is None:
        import micropython

        schedule = micropython.schedule
    CAN = pyb.CAN
    can_cfg = cfg["can"]
    can = CAN(can_cfg["bus"], CAN.NORMAL if mode is None else mode, **init_kwargs(cfg))
    if can_cfg["controller"] == "FDCAN":
        can.setfilter(0, CAN.RANGE, fifo, (0, 0x7FF))
        can.setfilter(0, CAN.RANGE, fifo, (0, 0x1FFFFFFF), extframe=True)
    else:
        can.setfilter(0, CAN.MASK32, fifo, (0, 0))
    port = PybCan(can, on_frame, fd=can_cfg["fd"], fifo=fifo, schedule=schedule)
    port.start()
    return port
