# The link's framing against independent implementations: COBS against the
# cobs package (PyPI), CRC-32 against zlib; and the vector files checked
# the same way, so the MicroPython-run tests stand on verified data.
import json
import os
import zlib

from cobs import cobs
from hypothesis import given, settings, strategies as st

from keyagent.optical import link as ml

HERE = os.path.dirname(__file__)


def load(name):
    with open(os.path.join(HERE, "..", "vectors", name)) as f:
        return json.load(f)


def test_vector_files_agree_with_the_peers():
    v = load("cobs_crc32.json")
    for case in v["cobs"]:
        assert cobs.encode(bytes.fromhex(case["decoded"])).hex() == case["encoded"]
    for case in v["crc32"]:
        assert zlib.crc32(case["data_ascii"].encode()) == int(case["crc"], 16)
    for ex in load("module_link_frames.json").values():
        for name in ("request", "response", "retry"):
            if name + "_frame" not in ex:
                continue
            frame = bytes.fromhex(ex[name + "_frame"])
            assert zlib.crc32(frame[:-4]).to_bytes(4, "big") == frame[-4:]
            assert cobs.encode(frame) + b"\x00" == bytes.fromhex(ex[name + "_wire"])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_cobs_and_crc_match_the_peers(data):
    out = bytearray(len(data) + len(data) // 254 + 1)
    n = ml.cobs_encode_into(data, len(data), out, 0)
    assert bytes(out[:n]) == cobs.encode(data)
    buf = bytearray(out[:n])
    assert bytes(buf[: ml.cobs_decode_in_place(buf, n)]) == data
    crc = bytearray(4)
    ml._crc32_plain_into(data, len(data), crc, 0)
    assert int.from_bytes(crc, "big") == zlib.crc32(data) == ml.crc32(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=300))
def test_cobs_decoder_agrees_with_the_peer_on_any_input(data):
    data = data.replace(b"\x00", b"\x01")
    buf = bytearray(data)
    n = ml.cobs_decode_in_place(buf, len(buf))
    try:
        expected = cobs.decode(data)
    except cobs.DecodeError:
        expected = None
    assert (bytes(buf[:n]) if n >= 0 else None) == expected
