# The discrete-event bus: arbitration, wire time, echo, faults, determinism,
# and the python-can virtual bridge. Assertions on counts, bytes and virtual times.
import random

import can
import pytest

from emulator.bus import ALL, BUS_OFF, CanBus, LoadMeter, arbitration_key
from emulator.bus_faults import RandomBitErrors, RandomLoss
from emulator.clock import MS, Clock
from emulator.pycan_bridge import VirtualBridge, frame_to_message, message_to_frame
from emulator.timing import frame_duration_ns

T8 = frame_duration_ns(8)  # 270 us: 8-byte standard frame, worst-case stuffing


def make_bus(seed=1, **kw):
    clock = Clock()
    return clock, CanBus(clock, random.Random(seed), **kw)


def recorder(log, name):
    def receive(frame, is_rx):
        log.append((name, frame.can_id, bytes(frame.data), is_rx, frame.timestamp))
    return receive


def test_clock_orders_by_time_then_schedule_order():
    clock = Clock()
    out = []
    clock.call_at(20, out.append, "c")
    clock.call_at(10, out.append, "a")
    clock.call_at(10, out.append, "b")
    h = clock.call_at(15, out.append, "x")
    clock.cancel(h)
    assert clock.run_until(15) == 2
    assert out == ["a", "b"] and clock.now == 15
    clock.run_until(100)
    assert out == ["a", "b", "c"] and clock.now == 100
    with pytest.raises(ValueError):
        clock.call_at(5, out.append, "late")


def test_lowest_id_wins_and_everyone_sees_every_frame():
    clock, bus = make_bus()
    log = []
    a = bus.attach("a", recorder(log, "a"))
    b = bus.attach("b", recorder(log, "b"))
    a.send(0x300, bytes(8))
    b.send(0x100, bytes(8))
    a.send(0x200, bytes(8))
    clock.run_until(10 * MS)
    order = [cid for name, cid, _, _, _ in log if name == "b"]
    assert order == [0x100, 0x200, 0x300]
    # sender sees its own frame with is_rx False, the other with True
    assert [(n, rx) for n, cid, _, rx, _ in log if cid == 0x100] == [("a", True), ("b", False)]
    # back to back: each frame ends one wire time after the previous
    assert [ts for n, _, _, _, ts in log if n == "a"] == [T8, 2 * T8, 3 * T8]
    assert bus.frames == 3 and bus.busy_ns == 3 * T8


def test_standard_beats_extended_with_same_base_id():
    assert arbitration_key(0x123, False) < arbitration_key(0x123 << 18, True)
    assert arbitration_key(0x122 << 18 | 0x3FFFF, True) < arbitration_key(0x123, False)


def test_frame_queued_during_transmission_waits_for_idle():
    clock, bus = make_bus()
    log = []
    a = bus.attach("a", recorder(log, "a"))
    a.send(0x700, bytes(8))
    clock.call_at(T8 // 2, a.send, 0x001, bytes(8))  # higher priority, but too late
    clock.run_until(10 * MS)
    assert [cid for _, cid, _, _, _ in log] == [0x700, 0x001]


def test_reply_from_receive_contends_in_next_arbitration():
    clock, bus = make_bus()
    log = []
    a = bus.attach("a", recorder(log, "a"))
    b = bus.attach("b")

    def reply(frame, is_rx):
        if is_rx and frame.can_id == 0x10:
            b.send(0x11, b"\x01")

    b.receive = reply
    a.send(0x10, bytes(8))
    a.send(0x50, bytes(8))  # pending when 0x10 completes; 0x11 still wins
    clock.run_until(10 * MS)
    assert [cid for _, cid, _, _, _ in log] == [0x10, 0x11, 0x50]


def test_fd_frame_uses_data_rate():
    clock, bus = make_bus()
    log = []
    a = bus.attach("a", recorder(log, "a"))
    a.send(0x100, bytes(64), fd=True)
    clock.run_until(10 * MS)
    assert log[0][4] == frame_duration_ns(64, fd=True, brs=True)
    with pytest.raises(ValueError):
        a.send(0x100, bytes(9))


def test_loss_for_all_or_some_receivers():
    clock, bus = make_bus()
    log = []
    a = bus.attach("a", recorder(log, "a"))
    b = bus.attach("b", recorder(log, "b"))
    c = bus.attach("c", recorder(log, "c"))
    bus.loss_hooks.append(lambda f: ALL if f.can_id == 1 else ({c} if f.can_id == 2 else None))
    for cid in (1, 2, 3):
        a.send(cid, b"\x00")
    clock.run_until(10 * MS)
    got = sorted((n, cid) for n, cid, _, rx, _ in log if rx)
    assert got == [("b", 2), ("b", 3), ("c", 3)]
    assert a.sent == 3 and bus.lost_deliveries == 3


def test_bit_error_retransmits_and_counts():
    clock, bus = make_bus()
    log = []
    a = bus.attach("a")
    b = bus.attach("b", recorder(log, "b"))
    errors = iter([True, True, False])
    bus.bit_error_hooks.append(lambda f: next(errors))
    a.send(0x55, b"\x11\x22")
    clock.run_until(10 * MS)
    assert [cid for _, cid, _, _, _ in log] == [0x55]  # delivered once, after 2 retries
    assert bus.error_frames == 2
    assert a.tec == 16 - 1 and b.rec == 2 - 1


def test_bus_off_after_repeated_errors_and_recovery():
    clock, bus = make_bus()
    a = bus.attach("a")
    bus.bit_error_hooks.append(lambda f: f.sender is a)
    a.send(0x10, b"\x00")
    a.send(0x11, b"\x00")
    clock.run_until(100 * MS)
    assert a.state == BUS_OFF and bus.error_frames == 32 and a.dropped == 2
    assert a.send(0x12, b"") is None and a.dropped == 3
    a.recover()
    bus.bit_error_hooks.clear()
    assert a.send(0x12, b"") is not None


def test_load_meter_saturated_bus():
    clock, bus = make_bus()
    meter = LoadMeter(bus)

    def again(frame, is_rx):
        if not is_rx:
            frame.sender.send(frame.can_id, frame.data)

    for i in range(4):
        bus.attach("n%d" % i, again).send(0x100 + i, bytes(8))
    clock.run_until(100 * T8)
    assert bus.frames == 100
    assert meter.sample() == 1.0


def run_random_traffic(seed):
    clock, bus = make_bus(seed)
    rng = random.Random(seed)
    bus.loss_hooks.append(RandomLoss(random.Random(seed + 1), 0.05))
    bus.bit_error_hooks.append(RandomBitErrors(random.Random(seed + 2), 0.02))
    trace = []
    nodes = [bus.attach("n%d" % i, (lambda i: lambda f, rx: trace.append(
        (i, f.can_id, bytes(f.data), rx, f.timestamp)))(i)) for i in range(5)]

    def tick():
        node = nodes[rng.randrange(5)]
        node.send(rng.randrange(0x800), rng.randbytes(rng.randrange(9)))
        clock.call_later(rng.randrange(50_000, 400_000), tick)

    clock.call_at(0, tick)
    clock.run_until(200 * MS)
    return trace, bus.error_frames, bus.lost_deliveries


def test_same_seed_same_trace():
    t1 = run_random_traffic(7)
    t2 = run_random_traffic(7)
    assert t1 == t2
    assert t1[1] > 0 and t1[2] > 0
    assert run_random_traffic(8)[0] != t1[0]


def test_message_conversion_round_trip():
    msg = can.Message(arbitration_id=0x1ABCDE0, is_extended_id=True, data=bytes(range(12)),
                      is_fd=True, bitrate_switch=True)
    f = message_to_frame(msg)
    f.timestamp = 1_500_000
    back = frame_to_message(f, True, "x")
    assert back.equals(msg, timestamp_delta=None, check_channel=False, check_direction=False)
    assert back.timestamp == 0.0015


def test_virtual_bridge_both_directions():
    clock, bus = make_bus()
    log = []
    ecu = bus.attach("ecu", recorder(log, "ecu"))
    bridge = VirtualBridge(bus, channel="test-bridge-%d" % id(bus))
    tool = can.Bus(interface="virtual", channel=bridge.channel)
    try:
        ecu.send(0x123, b"\x01\x02\x03")
        tool.send(can.Message(arbitration_id=0x456, data=b"\xaa", is_extended_id=False))
        clock.run_until(5 * MS)
        got = tool.recv(1.0)
        assert (got.arbitration_id, bytes(got.data), got.timestamp) == (0x123, b"\x01\x02\x03",
                                                                        frame_duration_ns(3) / 1e9)
        assert [(cid, data) for _, cid, data, rx, _ in log if rx] == [(0x456, b"\xaa")]
        assert tool.recv(0.05) is None  # the tool's own frame is not echoed back
        assert bridge.injected == 1
    finally:
        tool.shutdown()
        bridge.close()


def test_load_meter_half_load_and_frame_in_progress():
    clock, bus = make_bus()
    a = bus.attach("a")

    def tick():
        a.send(0x10, bytes(8))
        clock.call_later(2 * T8, tick)

    clock.call_at(0, tick)
    meter = LoadMeter(bus)
    clock.run_until(20 * T8)
    assert meter.sample() == 0.5
    clock.run_until(20 * T8 + T8 // 2)  # half-way through a frame
    assert meter.sample() == 1.0
    assert bus.busy_time() == 10 * T8 + T8 // 2


def test_random_loss_per_receiver():
    clock, bus = make_bus()
    got = {"b": 0, "c": 0}
    a = bus.attach("a")
    b = bus.attach("b", lambda f, rx: got.__setitem__("b", got["b"] + 1))
    c = bus.attach("c", lambda f, rx: got.__setitem__("c", got["c"] + 1))
    bus.loss_hooks.append(RandomLoss(random.Random(4), 0.5, receivers=[c]))
    for i in range(100):
        clock.call_at(i * MS, a.send, 0x20, b"\x00")
    clock.run_until(200 * MS)
    assert got["b"] == 100 and 0 < got["c"] < 100
    assert bus.lost_deliveries == 100 - got["c"]
