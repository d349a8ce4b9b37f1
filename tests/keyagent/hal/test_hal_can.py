# The CAN adapters (keyagent.hal.can_pyb, can_machine) against fakes shaped
# after MicroPython's documented pyb.CAN and machine.CAN, injected through
# sys.modules the way the real modules are found on a board. Under
# MicroPython the receive path also runs with the heap locked, which proves
# that no heap is allocated per frame.
import sys

from fwtest import board, raises
import fake_can
from keyagent.hal import can_machine, can_pyb
from keyagent.hal.can import open_can

try:
    import micropython

    HEAP_LOCK = hasattr(micropython, "heap_lock")
except ImportError:
    HEAP_LOCK = False

class Sink:
    # on_frame that copies each frame into preallocated storage (no heap).
    def __init__(self, n=8):
        self.ids = [0] * n
        self.ext = [False] * n
        self.lens = [0] * n
        self.data = [bytearray(64) for _ in range(n)]
        self.count = 0

    def __call__(self, can_id, data, extended):
        i = self.count
        self.ids[i] = can_id
        self.ext[i] = extended
        self.lens[i] = len(data)
        buf = self.data[i]
        for j in range(len(data)):
            buf[j] = data[j]
        self.count = i + 1

    def frame(self, i):
        return self.ids[i], bytes(self.data[i][0 : self.lens[i]]), self.ext[i]


class Scheduler:
    # Stands in for micropython.schedule: one preallocated slot.
    def __init__(self):
        self.slot = [None, None]
        self.calls = 0

    def __call__(self, fn, arg):
        self.slot[0] = fn
        self.slot[1] = arg
        self.calls += 1

    def run(self):
        fn = self.slot[0]
        self.slot[0] = None
        fn(self.slot[1])


def with_module(name, module, fn):
    old = sys.modules.get(name)
    sys.modules[name] = module
    try:
        return fn()
    finally:
        if old is None:
            del sys.modules[name]
        else:
            sys.modules[name] = old


def locked(fn):
    if HEAP_LOCK:
        micropython.heap_lock()
    try:
        fn()
    finally:
        if HEAP_LOCK:
            micropython.heap_unlock()


def test_pyb_classic_init_from_board_config():
    pyb = fake_can.make_pyb(fd=False)
    sink = Sink()
    port = with_module("pyb", pyb, lambda: open_can(board("NUCLEO_F446RE"), sink, schedule=Scheduler()))
    can = pyb.CAN.made[-1]
    assert can.bus == 1 and can.mode == pyb.CAN.NORMAL
    assert can.init_kw == {"prescaler": 6, "sjw": 2, "bs1": 11, "bs2": 2, "auto_restart": True}
    assert can.filters == [(0, pyb.CAN.MASK32, 0, (0, 0), False)]
    assert can.callbacks[0] is not None
    assert isinstance(port, can_pyb.PybCan)


def test_pyb_fd_init_from_board_config():
    pyb = fake_can.make_pyb(fd=True)
    with_module("pyb", pyb, lambda: open_can(board("NUCLEO_G474RE"), Sink(), schedule=Scheduler()))
    can = pyb.CAN.made[-1]
    assert can.init_kw == {
        "prescaler": 1, "sjw": 6, "bs1": 41, "bs2": 6,
        "brs_prescaler": 1, "brs_sjw": 3, "brs_bs1": 8, "brs_bs2": 3,
    }
    assert (0, pyb.CAN.RANGE, 0, (0, 0x7FF), False) in can.filters
    assert (0, pyb.CAN.RANGE, 0, (0, 0x1FFFFFFF), True) in can.filters


def test_pyb_irq_schedules_once_and_drain_delivers_without_heap():
    pyb = fake_can.make_pyb(fd=True)
    sched = Scheduler()
    sink = Sink()
    port = can_pyb.open_bus(board("NUCLEO_H743ZI"), sink, pyb=pyb, schedule=sched)
    can = pyb.CAN.made[-1]
    can.inject(0x1, b"warm-up")  # the fake learns the receive list
    assert port.poll() == 1 and sink.count == 1
    sink.count = 0
    can.inject(0x123, b"\x01\x02\x03")
    can.inject(0x18DAF110, bytes(range(64)), ext=True)
    can.inject(0x7FF, b"")
    can.inject(0x55, b"\x00" * 4, rtr=True)
    can.inject(0x100, b"\xaa" * 8)

    def irq_then_drain():
        can.fire_rx_irq(0)
        can.fire_rx_irq(1)  # FIFO full: still one scheduled drain
        sched.run()

    locked(irq_then_drain)
    assert sched.calls == 1
    assert sink.count == 4
    assert sink.frame(0) == (0x123, b"\x01\x02\x03", False)
    assert sink.frame(1) == (0x18DAF110, bytes(range(64)), True)
    assert sink.frame(2) == (0x7FF, b"", False)
    assert sink.frame(3) == (0x100, b"\xaa" * 8, False)
    assert (port.rx_frames, port.rx_dropped, port.rx_overflows) == (6, 1, 0)
    can.fire_rx_irq(2)  # a frame was lost
    assert port.rx_overflows == 1 and sched.calls == 2


def test_pyb_poll_limit_leaves_the_rest():
    pyb = fake_can.make_pyb(fd=False)
    sink = Sink()
    port = can_pyb.open_bus(board("PYBV11"), sink, pyb=pyb, schedule=Scheduler())
    can = pyb.CAN.made[-1]
    for i in range(5):
        can.inject(i, bytes([i]))
    assert port.poll(3) == 3 and port.poll(3) == 2 and port.poll(3) == 0
    assert [sink.frame(i)[1] for i in range(5)] == [bytes([i]) for i in range(5)]


def test_pyb_send_classic_and_fd():
    pyb = fake_can.make_pyb(fd=False)
    port = can_pyb.open_bus(board("STM32F4DISC"), Sink(), pyb=pyb, schedule=Scheduler())
    can = pyb.CAN.made[-1]
    assert port.send(0x10, b"\x01\x02")
    assert port.send(0x1ABCDE, b"", extended=True)
    assert can.sent == [(0x10, b"\x01\x02", False, False, False), (0x1ABCDE, b"", True, False, False)]
    assert raises(ValueError, port.send, 0x10, bytes(12), True)  # no FD on bxCAN
    assert raises(ValueError, port.send, 0x10, bytes(9))
    assert port.send(0x11, b"x")
    assert not port.send(0x12, b"y")  # three mailboxes full
    assert port.tx_failed == 1

    pyb = fake_can.make_pyb(fd=True)
    port = can_pyb.open_bus(board("NUCLEO_G474RE"), Sink(), pyb=pyb, schedule=Scheduler())
    can = pyb.CAN.made[-1]
    assert port.send(0x20, bytes(range(64)), fd=True, brs=True)
    assert port.send(0x21, b"\x05")
    assert can.sent == [(0x20, bytes(range(64)), False, True, True), (0x21, b"\x05", False, False, False)]
    assert raises(ValueError, port.send, 0x20, bytes(65), True)


def test_pyb_stop_unregisters_callback():
    pyb = fake_can.make_pyb(fd=False)
    port = can_pyb.open_bus(board("NUCLEO_F446RE"), Sink(), pyb=pyb, schedule=Scheduler())
    port.stop()
    assert pyb.CAN.made[-1].callbacks[0] is None


def test_machine_init_from_board_config():
    machine = fake_can.make_machine()
    port = with_module("machine", machine, lambda: open_can(board("NUCLEO_F446RE"), Sink(), api="machine.CAN"))
    can = machine.CAN.made[-1]
    assert can.id == 1
    assert can.init_args == (500000, can.MODE_NORMAL, 75, 2, 11, 2)
    assert can.filters is None  # receive all
    assert can.trigger == can.IRQ_RX and can.hard is False and can.handler is not None
    assert isinstance(port, can_machine.MachineCan)


def test_machine_rejects_fd_board_and_fd_frames():
    machine = fake_can.make_machine()
    assert raises(ValueError, open_can, board("NUCLEO_G474RE"), Sink(), "machine.CAN")
    port = can_machine.open_bus(board("NUCLEO_F446RE"), Sink(), machine=machine)
    assert raises(ValueError, port.send, 0x10, b"", True)
    assert raises(ValueError, port.send, 0x10, b"", False, True)


def test_machine_irq_delivers_without_heap():
    machine = fake_can.make_machine()
    sink = Sink()
    port = can_machine.open_bus(board("NUCLEO_F446RE"), sink, machine=machine)
    can = machine.CAN.made[-1]
    can.inject(0x1, b"warm-up")  # the fake learns the receive list
    assert port.poll() == 1 and sink.count == 1
    sink.count = 0
    can.inject(0x321, b"\x09\x08")
    can.inject(0x1234567, b"\x01" * 8, flags=can.FLAG_EXT_ID)
    can.inject(0x44, b"\x00\x00", flags=can.FLAG_RTR)
    can.inject(0x45, b"", errs=can.RECV_ERR_OVERRUN)
    locked(lambda: can.fire_irq(can.IRQ_RX))
    assert sink.count == 3
    assert sink.frame(0) == (0x321, b"\x09\x08", False)
    assert sink.frame(1) == (0x1234567, b"\x01" * 8, True)
    assert sink.frame(2) == (0x45, b"", False)
    assert (port.rx_frames, port.rx_dropped, port.rx_overflows) == (5, 1, 1)
    port.stop()
    assert can.handler is None


def test_machine_send_flags_queue_full_and_bus_off():
    machine = fake_can.make_machine()
    port = can_machine.open_bus(board("PYBV11"), Sink(), machine=machine)
    can = machine.CAN.made[-1]
    assert port.send(0x10, b"\x01")
    assert port.send(0x18FF0001, b"\x02", extended=True)
    assert can.sent == [(0x10, b"\x01", 0), (0x18FF0001, b"\x02", can.FLAG_EXT_ID)]
    assert port.send(0x11, b"")
    assert not port.send(0x12, b"")  # queue full: send() returned None
    can.sent.clear()
    can.bus_off = True
    assert not port.send(0x13, b"")  # OSError from the driver
    assert port.tx_failed == 2


def test_unknown_api_is_a_local_error():
    assert raises(ValueError, open_can, board("NUCLEO_F446RE"), Sink(), "socketcan")


def test_pyb_recv_one_frame_at_a_time_for_node():
    pyb = fake_can.make_pyb(fd=True)
    port = can_pyb.open_bus(board("NUCLEO_G474RE"), Sink(), pyb=pyb, schedule=Scheduler())
    can = pyb.CAN.made[-1]
    can.inject(0x55, b"", rtr=True)
    can.inject(0x101, bytes(range(12)))
    can.inject(0x102, b"\x07")
    first = port.recv(0)
    assert (first[0], bytes(first[1])) == (0x101, bytes(range(12)))
    second = port.recv(5)
    assert second is first  # one list, reused
    assert (second[0], bytes(second[1])) == (0x102, b"\x07")
    assert port.recv(0) is None and port.recv(3) is None
    assert (port.rx_frames, port.rx_dropped) == (3, 1)


def test_machine_recv_one_frame_at_a_time_for_node():
    machine = fake_can.make_machine()
    port = can_machine.open_bus(board("NUCLEO_F446RE"), Sink(), machine=machine)
    can = machine.CAN.made[-1]
    can.inject(0x44, b"\x00", flags=can.FLAG_RTR)
    can.inject(0x201, b"\x01\x02")
    frame = port.recv(0)
    assert (frame[0], bytes(frame[1])) == (0x201, b"\x01\x02")
    assert port.recv(0) is None and port.recv(2) is None
    assert (port.rx_frames, port.rx_dropped) == (2, 1)
