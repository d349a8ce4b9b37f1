# Framing of the optical-module link: CRC-32 and COBS against published
# vectors (tests/vectors/cobs_crc32.json), the worked example of
# docs/optical-module-protocol.md, and the receiver's counted rejections.
from fwtest import vectors, h, raises
from keyagent.optical import link as ml

V = vectors("cobs_crc32.json")
F = vectors("module_link_frames.json")


def crc_of(fn, data):
    out = bytearray(4)
    fn(data, len(data), out, 0)
    return bytes(out)


def wire_of(frame_without_crc):
    raw = bytearray(frame_without_crc) + bytearray(4)
    out = bytearray(ml.MAX_WIRE + 1)
    n = ml.encode_frame(raw, len(frame_without_crc), out, 0)
    return bytes(out[0:n])


def receive_all(rx, data):
    # Every valid frame in data, as bytes.
    frames = []
    pos = 0
    while pos < len(data):
        pos = rx.feed(data, pos)
        if rx.length:
            frames.append(bytes(rx.frame[0 : rx.length]))
    return frames


def test_crc32_check_values_both_implementations():
    for case in V["crc32"]:
        data = case["data_ascii"].encode()
        assert crc_of(ml._crc32_plain_into, data) == h(case["crc"])
        assert crc_of(ml.crc32_into, data) == h(case["crc"])
        assert ml.crc32(data) == int(case["crc"], 16)


def test_crc32_plain_matches_selected_on_frames():
    data = bytes(range(256))
    for n in (0, 1, 5, 17, 126, 256):
        assert crc_of(ml._crc32_plain_into, data[0:n]) == crc_of(ml.crc32_into, data[0:n])


def test_cobs_published_examples():
    for case in V["cobs"]:
        raw = h(case["decoded"])
        enc = h(case["encoded"])
        out = bytearray(len(raw) + len(raw) // 254 + 1)
        n = ml.cobs_encode_into(raw, len(raw), out, 0)
        assert bytes(out[0:n]) == enc
        buf = bytearray(enc)
        n = ml.cobs_decode_in_place(buf, len(buf))
        assert bytes(buf[0:n]) == raw


def test_cobs_decode_rejects_overrun_and_zero():
    assert ml.cobs_decode_in_place(bytearray(h("05112233")), 4) == -1
    assert ml.cobs_decode_in_place(bytearray(h("021100")), 3) == -1


def test_worked_example_frames():
    ex = F["get_key_by_id"]
    frame = h(ex["request_frame"])
    assert wire_of(frame[0:-4]) == h(ex["request_wire"])
    assert wire_of(h(ex["response_frame"])[0:-4]) == h(ex["response_wire"])
    st = F["status"]
    assert wire_of(h(st["request_frame"])[0:-4]) == h(st["request_wire"])


def test_encode_frame_rejects_bad_lengths():
    out = bytearray(200)
    assert raises(ValueError, ml.encode_frame, bytearray(10), 1, out, 0)
    assert raises(ValueError, ml.encode_frame, bytearray(200), ml.MAX_FRAME - 3, out, 0)


def test_receiver_frames_back_to_back_and_split():
    ex = F["get_key_by_id"]
    wires = h(ex["request_wire"]) + b"\x00\x00" + h(ex["response_wire"])
    rx = ml.FrameReceiver()
    assert receive_all(rx, wires) == [h(ex["request_frame"])[0:-4], h(ex["response_frame"])[0:-4]]
    rx = ml.FrameReceiver()
    got = []
    for b in wires:
        got += receive_all(rx, bytes((b,)))
    assert got == [h(ex["request_frame"])[0:-4], h(ex["response_frame"])[0:-4]]
    assert rx.rejects == [0] * ml.REJ_COUNT and rx.frames == 2


def test_receiver_counts_each_reason_and_resynchronises():
    good = h(F["status"]["request_wire"])
    bad_crc = bytearray(good)
    bad_crc[3] ^= 0x40
    cases = (
        (ml.REJ_CRC, bytes(bad_crc)),
        (ml.REJ_SHORT, h("0301020000")),  # two bytes: no room for a CRC
        (ml.REJ_COBS, wire_of(h("0100"))[0:3] + b"\x00"),  # truncated mid-block
        (ml.REJ_COBS, h("0511223300")),
        (ml.REJ_OVERSIZE, b"\x55" * (ml.MAX_WIRE + 1) + b"\x00"),
    )
    for reason, junk in cases:
        rx = ml.FrameReceiver()
        assert receive_all(rx, junk + good) == [h("0100")]
        expected = [0] * ml.REJ_COUNT
        expected[reason] = 1
        assert rx.rejects == expected, (reason, rx.rejects)


def test_noise_without_delimiter_is_dropped_at_the_next_one():
    rx = ml.FrameReceiver()
    good = h(F["status"]["request_wire"])
    # Noise glued to the front of a frame spoils that frame only.
    assert receive_all(rx, b"\x13\x37" + good + good) == [h("0100")]
    assert rx.rejected() == 1


def test_receive_buffer_is_bounded():
    rx = ml.FrameReceiver()
    size = len(rx.buf)
    for _ in range(20):
        assert receive_all(rx, b"\xaa" * 500) == []
    assert len(rx.buf) == size == ml.MAX_WIRE
    assert rx.rejects[ml.REJ_OVERSIZE] == 1  # one frame, counted once
    assert receive_all(rx, b"\x00" + h(F["status"]["request_wire"])) == [h("0100")]


def test_largest_frame_fits():
    frame = bytes((1, 2)) + bytes(range(1, ml.MAX_PAYLOAD + 1))
    wire = wire_of(frame)
    assert len(wire) == ml.MAX_WIRE + 1
    rx = ml.FrameReceiver()
    assert receive_all(rx, wire) == [frame]
