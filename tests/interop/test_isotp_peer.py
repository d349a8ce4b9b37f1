# keyagent's ISO-TP against a real peer: the `can-isotp` package, over a
# python-can `virtual` bus in this process, both directions, classic CAN and
# CAN FD, with block sizes and STmin. can-isotp runs without its threads
# (process() called from the loop), so the test is one thread and bounded.
import itertools
import time

import can
import isotp
import pytest

from keyagent.isotp.connection import IsoTpConnection, IsoTpReceiver, IsoTpSender

OUR_TX, OUR_RX = 0x7A0, 0x7A1
_channels = itertools.count()


def payload(n):
    return bytes((i * 31 + 5) & 0xFF for i in range(n))


class Pair:
    def __init__(self, fd, peer_params, ours_bs=0, ours_stmin=0, padding=None):
        channel = "keyagent-isotp-%d" % next(_channels)
        self.fd = fd
        self.peer_bus = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        self.our_bus = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        params = {
            "can_fd": fd,
            "tx_data_length": 64 if fd else 8,
            "max_frame_size": 6000,
            "tx_padding": padding,
        }
        params.update(peer_params)
        address = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=OUR_RX, rxid=OUR_TX)
        self.peer = isotp.CanStack(self.peer_bus, address=address, params=params)
        self.conn = IsoTpConnection(
            IsoTpSender(fd=fd, padding=padding),
            IsoTpReceiver(max_size=6000, fd=fd, block_size=ours_bs, stmin=ours_stmin, padding=padding),
        )
        self.wire = []  # what our side put on the bus

    def close(self):
        self.peer_bus.shutdown()
        self.our_bus.shutdown()

    def step(self, now_ms):
        got = None
        self.peer.process()
        while True:
            msg = self.our_bus.recv(0)
            if msg is None:
                break
            if msg.arbitration_id == OUR_RX:
                self.conn.on_frame(bytes(msg.data), now_ms)
                got = self.conn.pop_message() or got
        for frame in self.conn.poll(now_ms):
            self.wire.append(frame)
            self.our_bus.send(
                can.Message(arbitration_id=OUR_TX, data=frame, is_extended_id=False, is_fd=self.fd, bitrate_switch=self.fd)
            )
        self.peer.process()
        return got

    def run(self, until, seconds=10.0):
        end = time.monotonic() + seconds
        result = None
        while time.monotonic() < end:
            got = self.step(int(time.monotonic() * 1000))
            if got is not None:
                result = got
            if until(result):
                return result
        raise AssertionError("transfer did not finish in %s s" % seconds)


CASES = [
    # fd, size, peer block size / STmin, our block size / STmin, padding
    (False, 5, 0, 0, 0, 0, None),
    (False, 7, 8, 0, 0, 0, 0xCC),
    (False, 8, 0, 0, 0, 0, None),
    (False, 100, 4, 1, 3, 2, 0xAA),
    (False, 300, 2, 0xF5, 5, 0xF2, None),
    (False, 4095, 0, 0, 0, 0, 0x00),
    (True, 30, 0, 0, 0, 0, None),
    (True, 62, 0, 0, 0, 0, 0xCC),
    (True, 63, 4, 1, 2, 1, None),
    (True, 1000, 3, 0xF9, 4, 0, 0x55),
    (True, 5000, 0, 0, 0, 0, None),
]


@pytest.mark.parametrize("fd, size, peer_bs, peer_stmin, our_bs, our_stmin, padding", CASES)
def test_peer_sends_we_receive(fd, size, peer_bs, peer_stmin, our_bs, our_stmin, padding):
    pair = Pair(fd, {"blocksize": peer_bs, "stmin": peer_stmin}, our_bs, our_stmin, padding)
    try:
        data = payload(size)
        pair.peer.send(data)
        got = pair.run(lambda r: r is not None)
        assert got == data
        assert pair.conn.receiver.rejected == {}
        fcs = [f for f in pair.wire if f[0] >> 4 == 3]
        assert all(f[0:3] == bytes([0x30, our_bs, our_stmin]) for f in fcs)
    finally:
        pair.close()


@pytest.mark.parametrize("fd, size, peer_bs, peer_stmin, our_bs, our_stmin, padding", CASES)
def test_we_send_peer_receives(fd, size, peer_bs, peer_stmin, our_bs, our_stmin, padding):
    pair = Pair(fd, {"blocksize": peer_bs, "stmin": peer_stmin}, our_bs, our_stmin, padding)
    try:
        data = payload(size)
        received = []
        pair.conn.send(data, int(time.monotonic() * 1000))

        def done(_):
            msg = pair.peer.recv()
            if msg is not None:
                received.append(bytes(msg))
            return received and not pair.conn.sender.busy()

        pair.run(done)
        assert received == [data]
        assert pair.conn.sender.sent == 1 and pair.conn.sender.failed == 0
        if padding is not None and not fd:
            assert all(len(f) == 8 for f in pair.wire)
    finally:
        pair.close()


def test_peer_overflow_is_refused_with_fc_ovflw():
    pair = Pair(False, {"blocksize": 0, "stmin": 0})
    pair.conn.receiver = IsoTpReceiver(max_size=64)
    errors = []
    pair.peer.error_handler = errors.append
    try:
        pair.peer.send(payload(200))
        pair.run(lambda _: pair.conn.receiver.rejected.get("overflow") and not pair.peer.transmitting())
        assert pair.wire == [bytes([0x32, 0, 0])]
        assert any(isinstance(e, isotp.errors.OverflowError) for e in errors)
    finally:
        pair.close()
