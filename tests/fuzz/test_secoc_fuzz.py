# Property tests: random bytes and random mutations of valid secured PDUs
# never raise out of the receiver and are never accepted.
from hypothesis import given, settings, strategies as st

from keyagent.secoc import engine as secoc
from keyagent.crypto.cmac import Cmac
from keyagent.secoc.freshness import CounterFreshness
from keyagent.secoc.engine import SecOCRx, SecOCTx, layout_for_profile

KEY = bytes(range(16))
LAYOUTS = [
    layout_for_profile(1, 0x10, 4, fv_bits=32),
    layout_for_profile(2, 0x11, 5),
    layout_for_profile(3, 0x12, 4),
    layout_for_profile(3, 0x13, 40, fd=True, header_bits=8),
]


def endpoints(layout):
    fvm = lambda a: CounterFreshness(layout.fv_bits, layout.tx_fv_bits, a) if layout.fv_bits else None  # noqa: E731
    tx, rx = SecOCTx(layout, fvm(0)), SecOCRx(layout, fvm(3))
    tx.key = rx.key = Cmac(KEY)
    return tx, rx


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LAYOUTS), st.binary(max_size=80))
def test_random_bytes_never_raise_or_pass(layout, data):
    _, rx = endpoints(layout)
    reason = rx.verify(data, len(data))
    assert reason in range(1, len(secoc.REASONS))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LAYOUTS), st.integers(1, 20), st.data())
def test_mutations_of_valid_frames_are_rejected(layout, count, data):
    tx, rx = endpoints(layout)
    out = bytearray(64)
    frames = []
    for i in range(count):
        plen = i % (layout.payload_len + 1) if layout.header_len else layout.payload_len
        payload = bytes([i]) * plen
        n = tx.protect(payload, len(payload), out)
        frames.append(bytes(out[:n]))
    accepted = set()
    for f in frames:
        assert rx.verify(f, len(f)) == secoc.OK
        accepted.add(f)
    victim = data.draw(st.sampled_from(frames))
    mutation = data.draw(st.sampled_from(["flip", "truncate", "extend", "replay"]))
    if mutation == "flip":
        bit = data.draw(st.integers(0, len(victim) * 8 - 1))
        bad = bytearray(victim)
        bad[bit >> 3] ^= 0x80 >> (bit & 7)
        bad = bytes(bad)
    elif mutation == "truncate":
        bad = victim[: data.draw(st.integers(0, len(victim) - 1))]
    elif mutation == "extend":
        bad = victim + data.draw(st.binary(min_size=1, max_size=8))
    else:
        bad = victim
    if layout.fv_bits == 0 and mutation == "replay":
        return  # Profile 2 has no freshness: replays are out of its reach by design
    reason = rx.verify(bad, len(bad))
    assert reason != secoc.OK, (mutation, victim.hex(), bad.hex())
