# The UDS server on its diagnostic CAN IDs over ISO-TP (both runtimes): a
# tester made of the firmware's own ISO-TP, exact frames, the 0x78 queue and
# the ECUReset that waits until its response has left.
from fwtest import h
from ota_fixture import Rig
from keyagent.isotp.connection import IsoTpConnection, IsoTpReceiver, IsoTpSender
from keyagent.uds.endpoint import DiagEndpoint, diag_ids


class Wire:
    def __init__(self):
        self.resets = 0
        self.rig = Rig()
        self.ep = DiagEndpoint(self.rig.server, 0x7E3, 0x7EB, self.reset)
        self.tester = IsoTpConnection(IsoTpSender(padding=0xCC), IsoTpReceiver(4095, padding=0xCC))
        self.now = 0
        self.seen = []  # (CAN ID, frame) in bus order

    def reset(self):
        self.resets += 1

    def request(self, data, rounds=20):
        # Sends one request, runs both ends; returns the responses.
        self.tester.send(bytes(data), self.now)
        got = []
        for _ in range(rounds):
            self.now += 1
            for frame in self.tester.poll(self.now):
                self.seen.append((0x7E3, frame))
                self.ep.on_frame(frame, self.now)
            self.ep.poll(self.now)
            for can_id, frame, fd in self.ep.pop_frames():
                self.seen.append((can_id, frame))
                self.tester.on_frame(frame, self.now)
                msg = self.tester.pop_message()
                if msg is not None:
                    got.append(bytes(msg))
        return got


def test_diag_ids_default_configured_and_none():
    assert diag_ids({"node": 3}) == (0x7E3, 0x7EB)
    assert diag_ids({"node": 0}) == (0x7E0, 0x7E8)
    assert diag_ids({"node": 8}) is None
    assert diag_ids({"node": 12, "diag_ids": [0x18DA0C00, 0x18DA000C]}) == (0x18DA0C00, 0x18DA000C)


def test_single_frame_exchange_exact_frames():
    w = Wire()
    assert w.request([0x3E, 0x00]) == [h("7e00")]
    assert w.seen == [(0x7E3, h("023e00cccccccccc")), (0x7EB, h("027e00cccccccccc"))]


def test_multi_frame_request_and_pending_then_answer():
    w = Wire()
    w.request([0x10, 0x02])
    seed = w.request([0x27, 0x01])[0][2:]
    assert len(seed) == 16  # a 18-byte response: first frame, flow control, consecutive frames
    from keyagent.crypto.cmac import Cmac
    from keyagent.uds.security import diag_key
    from ota_fixture import K_AUTH, NODE

    assert w.request(bytes([0x27, 0x02]) + Cmac(diag_key(K_AUTH, NODE)).digest(seed)) == [h("6702")]
    assert w.request([0x31, 0x01, 0xFF, 0x00]) == [h("7f3178"), h("7101ff0000")]


def test_ecu_reset_waits_for_its_response_to_leave():
    w = Wire()
    w.tester.send(h("1101"), 0)
    frame = w.tester.poll(1)[0]
    w.ep.on_frame(frame, 1)
    w.ep.poll(1)
    assert w.resets == 0  # the response is still with the caller
    assert [f for _, f, _ in w.ep.pop_frames()] == [h("025101cccccccccc")]
    w.ep.poll(2)
    assert w.resets == 1
    w.ep.poll(3)
    assert w.resets == 1
