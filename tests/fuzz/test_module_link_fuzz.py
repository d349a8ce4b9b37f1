# Property tests: random bytes and mutations of valid frames, fed to both
# ends of the optical-module link. Nothing may raise; a dropped frame shows
# up only in the documented counters; buffers never grow; and after a 0x00
# the link works again.
from hypothesis import given, settings, strategies as st

from emulator.optical_module import OpticalModuleEnd
from emulator.qkd_pair import ModulePair
from keyagent.optical import link as ml
from keyagent.optical.client import ModuleClient

KEY_ID = bytes(range(16))


def pair():
    p = ModulePair(seed=3, max_key_count=20)
    p.fill()
    return p


def frames_in(data):
    rx = ml.FrameReceiver()
    out = []
    pos = 0
    while pos < len(data):
        pos = rx.feed(data, pos)
        if rx.length:
            out.append(bytes(rx.frame[: rx.length]))
    return out, rx


def valid_wires():
    # A handful of valid requests and responses, as a client and module make them.
    p = pair()
    end = OpticalModuleEnd(p, "A")
    c = ModuleClient(max_outstanding=4)
    requests = []
    for start, args in ((c.status, ()), (c.get_new_key, (256,)), (c.get_key_by_id, (KEY_ID,)),
                        (c.open_connect, ("a", "b"))):
        start(0, *args)
        requests.append(c.data_to_send())
    return requests, [end.receive_data(r) for r in requests]


REQUESTS, RESPONSES = valid_wires()


def mutate(draw_data, wire):
    data = bytearray(wire)
    for _ in range(draw_data.draw(st.integers(1, 4))):
        op = draw_data.draw(st.sampled_from(("flip", "cut", "insert", "drop", "dup")))
        i = draw_data.draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] ^= 1 << draw_data.draw(st.integers(0, 7))
        elif op == "cut":
            data = data[:i]
        elif op == "insert":
            data[i:i] = draw_data.draw(st.binary(min_size=1, max_size=8))
        elif op == "drop" and data:
            del data[i]
        elif op == "dup":
            data = data + data
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=700))
def test_receiver_random_bytes(data):
    frames, rx = frames_in(data)
    assert len(rx.buf) == ml.MAX_WIRE
    assert rx.frames == len(frames)
    assert all(ml.HEADER <= len(f) <= ml.MAX_FRAME - ml.CRC_LEN for f in frames)
    assert data.count(0) >= rx.frames + sum(rx.rejects[1:4])  # one delimiter per verdict


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_module_end_random_bytes_answers_only_valid_frames(data):
    end = OpticalModuleEnd(pair(), "B")
    out = end.receive_data(data)
    frames, rx = frames_in(out)
    assert rx.rejected() == 0 and out.count(0) == len(frames)
    assert all(f[0] & ml.RESPONSE for f in frames)
    # Resynchronised: a clean request after a delimiter is answered.
    back, _ = frames_in(end.receive_data(b"\x00" + REQUESTS[0]))
    assert len(back) == 1 and back[0][0] == 0x81 and back[0][2] == ml.SUCCESS


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_module_end_mutated_requests(data):
    end = OpticalModuleEnd(pair(), "A")
    wire = mutate(data, data.draw(st.sampled_from(REQUESTS)))
    out = end.receive_data(wire)
    frames, rx = frames_in(out)
    assert rx.rejected() == 0
    before = sum(end.rx.rejects) + end.rx.frames
    # The delimiter may complete a frame left open by the mutation; the clean
    # request after it is answered in any case.
    back, _ = frames_in(end.receive_data(b"\x00" + REQUESTS[0]))
    assert 1 <= len(back) <= 2 and back[-1][0] == 0x81 and back[-1][2] == ml.SUCCESS
    assert sum(end.rx.rejects) + end.rx.frames >= before


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_client_mutated_and_random_responses(data):
    c = ModuleClient(max_outstanding=4)
    for start, args in ((c.status, ()), (c.get_new_key, (256,)), (c.get_key_by_id, (KEY_ID,)),
                        (c.open_connect, ("a", "b"))):
        start(0, *args)
    c.data_to_send()
    if data.draw(st.booleans()):
        noise = mutate(data, data.draw(st.sampled_from(RESPONSES)))
    else:
        noise = data.draw(st.binary(max_size=300))
    c.receive_data(noise)
    results = []
    while (r := c.next_result()) is not None:
        results.append(r)
    assert len(results) + c.outstanding() == 4
    assert len(c.rx.buf) == ml.MAX_WIRE
    for r in results:
        assert isinstance(r.status, int) and (r.key is None or len(r.key) <= ml.MAX_KEY)
    # Every outstanding request still completes from clean responses after a delimiter.
    c.receive_data(b"\x00" + b"".join(RESPONSES))
    while c.next_result() is not None:
        pass
    assert c.outstanding() == 0
