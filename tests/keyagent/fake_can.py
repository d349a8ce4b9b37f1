# Fakes of MicroPython's pyb.CAN and machine.CAN, shaped after their
# documentation (docs/library/pyb.CAN.rst, machine.CAN.rst): same call
# signatures, argument ranges and return shapes, so an adapter that works
# against them calls the real drivers the same way. Frames are queued with
# inject(); the fakes' receive paths allocate nothing once they have seen the
# caller's list (the first recv() into it), so tests can run the adapters
# with the heap locked after one warm-up frame.


class _Module:
    # Stands in for the pyb / machine module in sys.modules.
    def __init__(self, **attrs):
        for k in attrs:
            setattr(self, k, attrs[k])


def _views(lst_view, cap):
    if not isinstance(lst_view, memoryview):
        raise TypeError("list item must be a memoryview")
    if len(lst_view) < cap:
        raise ValueError("receive buffer smaller than %d bytes" % cap)
    return [lst_view[:n] for n in range(cap + 1)]


def make_pyb(fd):
    # pyb with a classic bxCAN (F4) or an FDCAN (G4/H7) CAN class.
    cap = 64 if fd else 8
    limits = {"prescaler": 512 if fd else 1024, "sjw": 128 if fd else 4, "bs1": 256 if fd else 16, "bs2": 128 if fd else 8}
    if fd:
        limits.update({"brs_prescaler": 32, "brs_sjw": 16, "brs_bs1": 32, "brs_bs2": 16})
    allowed = set(limits) | {"auto_restart", "baudrate", "sample_point", "num_filter_banks"}
    if fd:
        allowed |= {"brs_baudrate", "brs_sample_point"}

    class CAN:
        NORMAL, LOOPBACK, SILENT, SILENT_LOOPBACK = 0, 1, 2, 3
        STOPPED, ERROR_ACTIVE, ERROR_WARNING, ERROR_PASSIVE, BUS_OFF = 0, 1, 2, 3, 4
        if fd:
            DUAL, RANGE, MASK = 0, 1, 2
        else:
            LIST16, MASK16, LIST32, MASK32 = 0, 1, 2, 3
        made = []
        # Hot-path methods must not close over make_pyb's locals: calling a
        # closure with this many arguments allocates on MicroPython.
        CAP = cap

        def __init__(self, bus, mode=None, **kw):
            if bus not in (1, 2):
                raise ValueError("CAN(%r) doesn't exist" % bus)
            self.bus = bus
            self.filters = []
            self.sent = []
            self.callbacks = {}
            self.rxq = ([], [])
            self.rxhead = [0, 0]  # read positions: list.pop() may shrink (allocate)
            self.tx_room = 3  # three hardware mailboxes
            self._views = None
            self._views_for = None
            CAN.made.append(self)
            if mode is not None:
                self.init(mode, **kw)

        def init(self, mode, prescaler=100, **kw):
            kw["prescaler"] = prescaler
            for k in kw:
                if k not in allowed:
                    raise TypeError("unexpected keyword argument '%s'" % k)
                if k in limits and not 1 <= kw[k] <= limits[k]:
                    raise ValueError("%s out of range" % k)
            self.mode = mode
            self.init_kw = kw

        def setfilter(self, bank, mode, fifo, params, *, rtr=None, extframe=False):
            if fifo not in (0, 1):
                raise ValueError("fifo")
            self.filters.append((bank, mode, fifo, tuple(params), extframe))

        def rxcallback(self, fifo, fun):
            self.callbacks[fifo] = fun

        def any(self, fifo):
            return self.rxhead[fifo] < len(self.rxq[fifo])

        def recv(self, fifo, list=None, *, timeout=5000):
            if not self.any(fifo):
                raise OSError(110)  # ETIMEDOUT, as the driver raises
            can_id, ext, rtr, data = self.rxq[fifo][self.rxhead[fifo]]
            self.rxhead[fifo] += 1
            if list is None:
                return [can_id, ext, rtr, 0, bytes(data)]
            if len(list) < 5:
                raise ValueError("list too short")
            if self._views_for is not list:
                self._views = _views(list[4], self.CAP)
                self._views_for = list
            view = self._views[len(data)]
            for i in range(len(data)):
                view[i] = data[i]
            list[0] = can_id
            list[1] = ext
            list[2] = rtr
            list[3] = 0
            list[4] = view
            return list

        if fd:

            def send(self, data, id, *, timeout=0, rtr=False, extframe=False, fdf=False, brs=False):
                if len(data) > (64 if fdf else 8):
                    raise ValueError("data too long")
                if brs and not fdf:
                    raise ValueError("brs needs fdf")
                self._queue(bytes(data), id, extframe, fdf, brs)

        else:

            def send(self, data, id, *, timeout=0, rtr=False, extframe=False):
                if len(data) > 8:
                    raise ValueError("data too long")
                self._queue(bytes(data), id, extframe, False, False)

        def _queue(self, data, can_id, ext, fdf, brs):
            if self.tx_room == 0:
                raise OSError(16)  # EBUSY: all mailboxes in use, timeout=0
            self.tx_room -= 1
            self.sent.append((can_id, data, ext, fdf, brs))

        # Test side: what the hardware would do.
        def inject(self, can_id, data, ext=False, rtr=False, fifo=0):
            self.rxq[fifo].append((can_id, ext, rtr, bytes(data)))

        def fire_rx_irq(self, reason=0, fifo=0):
            self.callbacks[fifo](self, reason)

    return _Module(CAN=CAN)


_UNSET = object()


class _Irq:
    def __init__(self, can):
        self._can = can

    def flags(self):
        f = self._can.pending_flags
        self._can.pending_flags = 0
        return f


def make_machine():
    class CAN:
        MODE_NORMAL, MODE_SLEEP, MODE_LOOPBACK, MODE_SILENT, MODE_SILENT_LOOPBACK = 0, 1, 2, 3, 4
        STATE_STOPPED, STATE_ACTIVE, STATE_WARNING, STATE_PASSIVE, STATE_BUS_OFF = 0, 1, 2, 3, 4
        FLAG_RTR, FLAG_EXT_ID, FLAG_UNORDERED = 1, 2, 4
        RECV_ERR_FULL, RECV_ERR_OVERRUN = 1, 2
        IRQ_RX, IRQ_TX, IRQ_STATE = 1, 2, 4
        TX_QUEUE_LEN = 3
        FILTERS_MAX = 14
        made = []

        def __init__(self, id, *args, **kwargs):
            if not args and "bitrate" not in kwargs:
                raise TypeError("bitrate required")
            self.id = id
            self.sent = []
            self.rxq = []
            self.rxhead = 0
            self.filters = ()
            self.handler = None
            self.trigger = 0
            self.hard = None
            self.pending_flags = 0
            self.bus_off = False
            self._irq = _Irq(self)
            self._views = None
            self._views_for = None
            CAN.made.append(self)
            self.init(*args, **kwargs)

        def init(self, bitrate, mode=0, sample_point=75, sjw=1, tseg1=None, tseg2=None):
            if (tseg1 is None) != (tseg2 is None):
                raise ValueError("tseg1 and tseg2 go together")
            if not 1 <= sjw <= 4 or (tseg1 is not None and not (1 <= tseg1 <= 16 and 1 <= tseg2 <= 8)):
                raise ValueError("timing out of range")
            self.init_args = (bitrate, mode, sample_point, sjw, tseg1, tseg2)

        def set_filters(self, filters):
            self.filters = filters

        def send(self, id, data, flags=0):
            if self.bus_off:
                raise OSError(5)
            if len(data) > 8:
                raise ValueError("data too long")
            if len(self.sent) >= self.TX_QUEUE_LEN:
                return None
            self.sent.append((id, bytes(data), flags))
            return len(self.sent) - 1

        def recv(self, arg=None):
            if self.rxhead == len(self.rxq):
                return None
            can_id, data, flags, errs = self.rxq[self.rxhead]
            self.rxhead += 1
            if arg is None:
                return [can_id, memoryview(bytearray(data)), flags, errs]
            if self._views_for is not arg:
                self._views = _views(arg[1], 8)
                self._views_for = arg
            view = self._views[len(data)]
            for i in range(len(data)):
                view[i] = data[i]
            arg[0] = can_id
            arg[1] = view
            arg[2] = flags
            arg[3] = errs
            return arg

        def irq(self, handler=_UNSET, trigger=0, hard=False):
            # irq() with no arguments returns the configured irq object;
            # irq(handler=None, trigger=0, hard=False) (re)configures it.
            if handler is not _UNSET:
                self.handler = handler
                self.trigger = trigger
                self.hard = hard
            return self._irq

        # Test side.
        def inject(self, can_id, data, flags=0, errs=0):
            self.rxq.append((can_id, bytes(data), flags, errs))

        def fire_irq(self, flags):
            self.pending_flags = flags
            self.handler(self)

    return _Module(CAN=CAN)
