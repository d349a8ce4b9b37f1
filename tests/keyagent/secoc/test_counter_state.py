# The counter path: SecOCTx.protect and SecOCRx.verify take a CounterFreshness's
# next value in the same native call as the MAC (keyagent.secoc.frame_mac),
# which reads and advances the counter's own buffers; every other path
# (candidates with carries, the alt key, stale checks, restart, persistence)
# reads and writes the same state through CounterFreshness. These tests hold
# the two to each other: a receiver on the counter path against one forced
# the general way, and the crossings between them.
from fwtest import h, raises
from keyagent.secoc import engine as secoc
from keyagent.crypto.cmac import Cmac, aes_cmac
from keyagent.secoc.freshness import CounterFreshness
from keyagent.secoc.engine import SecOCRx, SecOCTx, layout_for_profile

KEY = h("2b7e151628aed2a6abf7158809cf4f3c")
OTHER = h("000102030405060708090a0b0c0d0e0f")
PAYLOAD = h("11223344")


def pair(lay, attempts=1):
    tx = SecOCTx(lay, CounterFreshness(lay.fv_bits, lay.tx_fv_bits))
    rx = SecOCRx(lay, CounterFreshness(lay.fv_bits, lay.tx_fv_bits, attempts))
    tx.key = Cmac(KEY)
    rx.key = Cmac(KEY)
    return tx, rx


def general_receiver(lay, attempts=1):
    # A receiver that never takes the counter path: no frame length is its
    # fixed one (the attribute must exist, so that a rename fails here).
    rx = SecOCRx(lay, CounterFreshness(lay.fv_bits, lay.tx_fv_bits, attempts))
    rx.key = Cmac(KEY)
    assert rx._fixed_n == 8
    rx._fixed_n = -2
    return rx


def protect(tx):
    out = bytearray(8)
    n = tx.protect(PAYLOAD, 4, out)
    assert n == 8, n
    return bytes(out)


def expected_frame(fv, fv_bytes, key=KEY):
    # Profile 1 on classic CAN: PDU || FV low byte || 24 MAC bits.
    mac = aes_cmac(key, h("0001") + PAYLOAD + fv.to_bytes(fv_bytes, "big"))
    return PAYLOAD + bytes((fv & 0xFF,)) + mac[0:3]


def test_counter_path_agrees_with_the_general_path():
    # Deliveries, losses (some longer than the truncated window), replays,
    # forgeries and late frames, from a fixed pseudo-random sequence.
    for fv_bits in (8, 16, 24, 32):
        lay = layout_for_profile(1, 1, 4, fv_bits=fv_bits)
        tx, rx = pair(lay)
        ref = general_receiver(lay)
        seen = []
        seed = 12345
        for step in range(400):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            action = (seed >> 16) % 10
            if action == 0 and fv_bits > 8:
                for _ in range(200 + (seed >> 8) % 150):  # a long loss
                    f = tx.protect(PAYLOAD, 4, bytearray(8))
            if action == 1 and seen:
                f = seen[(seed >> 4) % len(seen)]  # a replay, or a late frame
            elif action == 2 and seen:
                bad = bytearray(seen[-1])
                bad[(seed >> 4) % 8] ^= 1 << ((seed >> 8) % 8)
                f = bytes(bad)  # forged
            else:
                if tx.fvm.counter >= tx.fvm.max:
                    break
                f = protect(tx)
                seen.append(f)
            got, want = rx.verify(f, 8), ref.verify(f, 8)
            assert got == want, (fv_bits, step, got, want)
            assert rx.fvm.last == ref.fvm.last, (fv_bits, step)
            if got == secoc.OK:
                assert rx.fv == ref.fv == rx.fvm.last, (fv_bits, step)
        assert rx.fvm.last > 0


def test_replay_after_a_restart_is_stale():
    lay = layout_for_profile(1, 1, 4, fv_bits=24)
    tx, rx = pair(lay)
    frames = [protect(tx) for _ in range(5)]
    for f in frames:
        assert rx.verify(f, 8) == secoc.OK
    assert (tx.fvm.counter, rx.fvm.last, rx.fv) == (5, 5, 5)
    # Both sides resume from a persisted floor, as after a reboot.
    rx.fvm.restart(300)
    tx.fvm.restart(300)
    assert rx.verify(frames[4], 8) == secoc.STALE_FRESHNESS
    f = protect(tx)
    assert f == expected_frame(301, 3)
    assert tx.fvm.counter == 301 and tx.fvm.next_tx() == 302
    assert rx.verify(f, 8) == secoc.OK and rx.fv == 301 and rx.fvm.last == 301
    assert rx.verify(f, 8) == secoc.STALE_FRESHNESS
    # A restart below what was accepted reopens nothing the counter path skips.
    rx.fvm.restart(301)
    assert rx.verify(f, 8) == secoc.STALE_FRESHNESS


def test_alt_key_frames_move_only_the_alt_counter():
    lay = layout_for_profile(1, 1, 4, fv_bits=24)
    old_tx, rx = pair(lay)
    for _ in range(3):
        assert rx.verify(protect(old_tx), 8) == secoc.OK
    # The switch: the new key current with a new counter, the old one alt.
    rx.alt_key, rx.alt_fvm = Cmac(OTHER), CounterFreshness(24, 8, 1)
    rx.swap_keys()
    new_tx = SecOCTx(lay, CounterFreshness(24, 8))
    new_tx.key = Cmac(OTHER)
    late = protect(old_tx)  # FV 4 under the old key, in flight
    f = protect(new_tx)
    assert f == expected_frame(1, 3, OTHER)
    assert rx.verify(f, 8) == secoc.OK and not rx.used_alt
    assert rx.verify(late, 8) == secoc.OK and rx.used_alt and rx.fv == 4
    assert (rx.fvm.last, rx.alt_fvm.last) == (1, 4)
    assert rx.verify(late, 8) == secoc.STALE_FRESHNESS
    assert rx.verify(f, 8) == secoc.STALE_FRESHNESS
    f = protect(new_tx)
    assert rx.verify(f, 8) == secoc.OK and not rx.used_alt and rx.fv == 2
    assert (rx.fvm.last, rx.alt_fvm.last) == (2, 4)


def test_counter_path_hands_over_at_2_to_30():
    # The counter path takes values below 2**30 (small ints on a 32-bit
    # core); from there on the general way goes on, with the same state.
    lay = layout_for_profile(1, 1, 4, fv_bits=32)
    tx, rx = pair(lay)
    ref = general_receiver(lay)
    tx.fvm.counter = rx.fvm.last = ref.fvm.last = 2**30 - 3
    for fv in range(2**30 - 2, 2**30 + 3):
        f = protect(tx)
        assert f == expected_frame(fv, 4), fv
        assert tx.fvm.counter == fv
        assert rx.verify(f, 8) == secoc.OK and rx.fv == fv and rx.fvm.last == fv, fv
        assert ref.verify(f, 8) == secoc.OK and ref.fv == fv
        assert rx.verify(f, 8) == secoc.STALE_FRESHNESS


def test_counter_exhausts_at_fv_bits_30():
    lay = layout_for_profile(1, 1, 4, fv_bits=30)
    tx, rx = pair(lay)
    tx.fvm.counter = rx.fvm.last = 2**30 - 3
    for fv in (2**30 - 2, 2**30 - 1):
        f = protect(tx)
        assert f == expected_frame(fv, 4)
        assert rx.verify(f, 8) == secoc.OK and rx.fv == fv
    assert tx.protect(PAYLOAD, 4, bytearray(8)) == -secoc.FRESHNESS_UNAVAILABLE
    assert tx.fvm.counter == 2**30 - 1


def test_freshness_value_0_goes_the_general_way():
    # -1 as the last value (host_tools' --fv 0): the first value may be 0.
    lay = layout_for_profile(1, 1, 4, fv_bits=24)
    tx, rx = pair(lay)
    tx.fvm.counter = rx.fvm.last = -1
    f = protect(tx)
    assert f == expected_frame(0, 3) and tx.fvm.counter == 0
    assert rx.verify(f, 8) == secoc.OK and rx.fv == 0 and rx.fvm.last == 0
    assert rx.verify(f, 8) == secoc.STALE_FRESHNESS


def test_counter_values_out_of_range_are_refused():
    fvm = CounterFreshness(8, 8)
    assert raises(ValueError, setattr, fvm, "counter", 256)
    assert raises(ValueError, setattr, fvm, "last", -2)
    assert raises(ValueError, fvm.restart, 300)
    fvm.restart(255)
    assert fvm.next_tx() == -1
    wide = CounterFreshness(64, 4)
    wide.counter = 2**64 - 2
    assert wide.next_tx() == 2**64 - 1 and wide.next_tx() == -1
    assert wide.counter == 2**64 - 1
