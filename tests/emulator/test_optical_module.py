# The firmware client against the emulated module end over a fake wire:
# exact bytes both ways, ETSI 004 streams shared by ends A and B, lost and
# damaged frames, retries answered from the module's replay window.
import json
import os

from emulator.optical_module import OpticalModuleEnd, StreamTable
from emulator.qkd_pair import ModulePair
from keyagent.optical import link as ml
from keyagent.optical.client import ModuleClient, QoS

VECTORS = os.path.join(os.path.dirname(__file__), "..", "vectors", "module_link_frames.json")


class Wire:
    """A client and a module end joined by a fake wire that can drop or
    damage what passes; it keeps every byte for exact comparisons."""

    def __init__(self, end, client=None):
        self.end = end
        self.client = client or ModuleClient(timeout_ms=100)
        self.now = 0
        self.sent = []
        self.received = []
        self.damage_requests = []  # functions applied to the next requests
        self.damage_responses = []

    def step(self):
        out = self.client.data_to_send()
        if out:
            self.sent.append(out)
            if self.damage_requests:
                out = self.damage_requests.pop(0)(out)
            back = self.end.receive_data(out)
            if back:
                self.received.append(back)
                if self.damage_responses:
                    back = self.damage_responses.pop(0)(back)
                self.client.receive_data(back)

    def call(self, start, *args):
        seq = start(self.now, *args)
        for _ in range(20):
            self.step()
            r = self.client.next_result()
            if r is not None:
                assert r.seq == seq
                return r
            self.now += self.client.next_timer(self.now)
            self.client.handle_timers(self.now)
        raise AssertionError("no result")


def make_pair(**kw):
    pair = ModulePair(seed=7, **kw)
    pair.fill()
    streams = StreamTable(pair)
    return pair, Wire(OpticalModuleEnd(pair, "A", streams)), Wire(OpticalModuleEnd(pair, "B", streams))


def test_worked_example_response_bytes():
    ex = json.load(open(VECTORS))["get_key_by_id"]
    pair = ModulePair(seed=7)
    pair.fill()
    key_id, key = pair.take_new_key("A", 256)
    end = OpticalModuleEnd(pair, "B")
    # The document's example with the pair's key ID and key.
    c = ModuleClient(first_seq=ex["seq"])
    c.get_key_by_id(0, key_id)
    wire = c.data_to_send()
    assert len(wire) == 24 and wire[1:3] == bytes.fromhex(ex["request_wire"])[1:3]
    reply = end.receive_data(wire)
    raw = bytearray(b"\x86\x17\x00\x20" + key + bytes(4))
    out = bytearray(64)
    assert reply == bytes(out[: ml.encode_frame(raw, 36, out, 0)])
    assert len(reply) == 42


def test_master_and_slave_get_the_same_key_by_id():
    _, a, b = make_pair()
    r = a.call(a.client.get_new_key, 256)
    s = b.call(b.client.get_key_by_id, r.key_id)
    assert (r.status, s.status) == (0, 0) and s.key == r.key and len(r.key) == 32
    again = b.call(b.client.get_key_by_id, r.key_id)
    assert again.status == ml.KEY_ID_UNKNOWN and again.key is None
    assert a.call(a.client.get_key_by_id, r.key_id).status == ml.KEY_ID_UNKNOWN  # the master's own


def test_etsi004_stream_both_sides():
    _, a, b = make_pair()
    o = a.call(a.client.open_connect, "sae-a", "sae-b", QoS(key_chunk_size=32))
    assert (o.status, o.key_chunk_size) == (ml.PEER_NOT_CONNECTED, 32)
    assert a.call(a.client.get_key, o.ksid, 0).status == ml.PEER_APP_NOT_CONNECTED
    assert b.call(b.client.get_key, o.ksid, 0).status == ml.KSID_UNKNOWN
    assert b.call(b.client.open_connect, "sae-b", "sae-a", None, o.ksid).status == ml.SUCCESS
    assert b.call(b.client.open_connect, "sae-b", "sae-a", None, o.ksid).status == ml.KSID_IN_USE
    keys_b = [b.call(b.client.get_key, o.ksid, i) for i in (1, 0)]
    keys_a = [a.call(a.client.get_key, o.ksid, i) for i in (0, 1)]
    assert [k.key for k in keys_a] == [keys_b[1].key, keys_b[0].key]
    assert [k.key_id for k in keys_a] == [keys_b[1].key_id, keys_b[0].key_id]
    assert keys_a[0].key != keys_a[1].key
    assert a.call(a.client.get_key, o.ksid, 0).status == ml.KEY_ID_UNKNOWN  # once per side
    assert a.call(a.client.close, o.ksid).status == ml.SUCCESS
    assert a.call(a.client.close, o.ksid).status == ml.KSID_UNKNOWN
    assert b.call(b.client.get_key, o.ksid, 2).status == ml.PEER_APP_NOT_CONNECTED
    assert b.call(b.client.close, o.ksid).status == ml.SUCCESS


def test_open_connect_qos_and_alarm():
    pair, a, _ = make_pair()
    assert a.call(a.client.open_connect, "a", "b", QoS(key_chunk_size=4)).status == ml.QOS_NOT_MET  # < 64 bits
    assert a.call(a.client.open_connect, "a", "b", QoS(min_bps=10**9)).status == ml.QOS_NOT_MET
    pair.set_eavesdrop(1.0)
    assert a.call(a.client.open_connect, "a", "b").status == ml.NO_QKD_CONNECTION
    assert a.call(a.client.get_new_key, 256).status == ml.NO_QKD_CONNECTION
    st = a.call(a.client.status).info
    assert st.link_state == ml.LINK_ALARM and st.qber_ppm > 110000
    pair.set_eavesdrop(0.0)
    assert a.call(a.client.status).info.link_state == ml.LINK_UP
    assert a.call(a.client.get_new_key, 256).status == ml.SUCCESS


def test_status_reports_the_pair():
    pair, a, _ = make_pair(max_key_count=50)
    info = a.call(a.client.status).info
    st = pair.status("A")
    assert (info.version, info.key_size_bits, info.stored_keys, info.max_keys) == (1, 256, 50, 50)
    assert info.qber_ppm == round(st["qber"] * 1e6) and info.key_rate_bps == int(st["secret_key_rate_bps"])
    a.call(a.client.get_new_key, 256)
    assert a.call(a.client.status).info.stored_keys == 49


def test_empty_pool_and_bad_sizes():
    pair = ModulePair(seed=1, max_key_count=1)
    end = Wire(OpticalModuleEnd(pair, "A"))
    assert end.call(end.client.get_new_key, 256).status == ml.INSUFFICIENT_KEY
    pair.fill()
    assert end.call(end.client.get_new_key, 32).status == ml.QOS_NOT_MET  # below the pair's 64 bits


def test_lost_response_is_replayed_not_redrawn():
    pair, a, b = make_pair()
    a.damage_responses.append(lambda data: b"")  # the first answer is lost
    r = a.call(a.client.get_new_key, 256)
    assert r.status == 0 and a.client.retransmissions == 1 and a.end.replays == 1
    assert a.sent[1][2] == a.sent[0][1] | ml.RETRY and a.sent[1][3] == a.sent[0][2]  # marked, same seq
    assert a.received[0] == a.received[1]
    assert pair.counters["keys_new"] == 1
    assert b.call(b.client.get_key_by_id, r.key_id).key == r.key


def test_a_fresh_request_is_never_answered_from_the_replay_window():
    # A second client on the same end (a restarted agent, another console)
    # sends byte-identical requests: each runs, each gets its own key.
    pair, a, _ = make_pair()
    first = a.call(a.client.get_new_key, 256)
    again = Wire(a.end)
    second = again.call(again.client.get_new_key, 256)
    assert again.sent == a.sent and first.key != second.key
    assert a.end.replays == 0 and pair.counters["keys_new"] == 2


def test_damaged_frames_both_ways_recover():
    def flip(data):
        d = bytearray(data)
        d[len(d) // 2] ^= 0x08
        return bytes(d)

    pair, a, b = make_pair()
    a.damage_requests.append(flip)
    a.damage_responses.append(lambda data: data[: len(data) // 2])  # truncated, then silence
    a.damage_responses.append(lambda data: b"\x99\x98\x00" + data)  # noise, a break, the frame
    r = a.call(a.client.get_new_key, 256)
    assert r.status == 0 and a.client.retransmissions == 2
    assert sum(a.end.rx.rejects) == 1 and a.end.rx.rejects[ml.REJ_CRC] == 1
    assert sum(a.client.rx.rejects) == 1  # the truncated half merged with the noise
    assert pair.counters["keys_new"] == 1
    assert b.call(b.client.get_key_by_id, r.key_id).key == r.key


def test_module_answers_bad_requests_and_ignores_responses():
    pair, _, _ = make_pair()
    end = OpticalModuleEnd(pair, "A")

    def frame(raw):
        buf = bytearray(raw) + bytes(4)
        out = bytearray(200)
        return bytes(out[: ml.encode_frame(buf, len(raw), out, 0)])

    assert end.receive_data(frame(b"\x81\x01\x00")) == b""  # a response: never answered
    assert end.receive_data(frame(b"\x3f\x02")) == frame(b"\xbf\x02\x81")
    assert end.receive_data(frame(b"\x06\x03" + bytes(15))) == frame(b"\x86\x03\x81")
    assert end.receive_data(frame(b"\x02\x04" + bytes(16) + b"\x40")) == frame(b"\x82\x04\x81")
    assert end.receive_data(frame(b"\x05\x05\x00\x07")) == frame(b"\x85\x05\x81")
    assert end.rejects() == {"oversize": 0, "cobs": 0, "short": 0, "crc": 0, "type": 2,
                             "length": 2, "unsolicited": 0}
