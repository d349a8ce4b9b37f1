# SecOC layouts, profiles, freshness handling and rejection reasons.
from fwtest import h, raises
from keyagent.secoc import engine as secoc
from keyagent.crypto.cmac import Cmac, aes_cmac
from keyagent.secoc.freshness import CounterFreshness
from keyagent.secoc.engine import PduLayout, SecOCRx, SecOCTx, layout_for_profile

KEY = h("2b7e151628aed2a6abf7158809cf4f3c")
PAYLOAD = h("11223344")


def pair(layout, attempts=2, key=KEY):
    tx = SecOCTx(layout, CounterFreshness(layout.fv_bits, layout.tx_fv_bits) if layout.fv_bits else None)
    rx = SecOCRx(layout, CounterFreshness(layout.fv_bits, layout.tx_fv_bits, attempts) if layout.fv_bits else None)
    tx.key = Cmac(key)
    rx.key = Cmac(key)
    return tx, rx


def protect(tx, payload=PAYLOAD):
    out = bytearray(64)
    n = tx.protect(payload, len(payload), out)
    assert n > 0, n
    return bytes(out[0:n])


def payload_of(rx, frame):
    return bytes(frame[rx.payload_off : rx.payload_off + rx.payload_len])


def test_profile1_layout_is_pdu_fv_mac():
    tx, rx = pair(layout_for_profile(1, 0x0123, 4))
    frame = protect(tx)
    mac = aes_cmac(KEY, h("0123") + PAYLOAD + h("01"))
    assert frame == PAYLOAD + h("01") + mac[0:3]
    assert rx.verify(frame, len(frame)) == secoc.OK
    assert payload_of(rx, frame) == PAYLOAD


def test_profile2_has_no_freshness():
    tx, rx = pair(layout_for_profile(2, 7, 4))
    frame = protect(tx)
    assert frame == PAYLOAD + aes_cmac(KEY, h("0007") + PAYLOAD)[0:3]
    assert rx.verify(frame, len(frame)) == secoc.OK


def test_profile3_packs_4_fv_bits_and_28_mac_bits():
    lay = layout_for_profile(3, 0x10, 4)
    tx, rx = pair(lay)
    tx.fvm.counter = 0x0123456789ABCDE0  # next FV ends in ...E1
    rx.fvm.last = 0x0123456789ABCDE0
    frame = protect(tx)
    mac = aes_cmac(KEY, h("0010") + PAYLOAD + h("0123456789abcde1"))
    word = (0x1 << 28) | (int.from_bytes(mac[0:4], "big") >> 4)
    assert frame == PAYLOAD + word.to_bytes(4, "big")
    assert rx.verify(frame, len(frame)) == secoc.OK
    assert rx.fv == 0x0123456789ABCDE1


def test_unaligned_custom_widths():
    lay = PduLayout(0x42, 3, 32, 5, 19)
    assert lay.auth_len == 3
    tx, rx = pair(lay)
    for _ in range(100):
        frame = protect(tx, h("a1b2c3"))
        assert rx.verify(frame, len(frame)) == secoc.OK


def test_truncated_fv_survives_wrap_and_losses():
    tx, rx = pair(layout_for_profile(1, 1, 4, fv_bits=32), attempts=0)
    for i in range(600):
        frame = protect(tx)
        if i % 7 == 3:
            continue  # lost on the wire: within the truncated window
        assert rx.verify(frame, len(frame)) == secoc.OK, i
    assert rx.fv == 600


def test_attempts_recover_a_gap_longer_than_the_window():
    tx, rx = pair(layout_for_profile(1, 1, 4, fv_bits=32), attempts=1)
    for _ in range(300):  # more than 256 frames lost
        frame = protect(tx)
    assert rx.verify(frame, len(frame)) == secoc.OK
    tx2, rx2 = pair(layout_for_profile(1, 1, 4, fv_bits=32), attempts=0)
    for _ in range(300):
        frame = protect(tx2)
    assert rx2.verify(frame, len(frame)) == secoc.MAC_MISMATCH


def test_replay_is_stale_with_truncated_fv():
    tx, rx = pair(layout_for_profile(1, 1, 4, fv_bits=32))
    old = protect(tx)
    assert rx.verify(old, len(old)) == secoc.OK
    for _ in range(5):
        f = protect(tx)
        assert rx.verify(f, len(f)) == secoc.OK
    assert rx.verify(old, len(old)) == secoc.STALE_FRESHNESS
    assert rx.verify(f, len(f)) == secoc.STALE_FRESHNESS
    assert rx.failures[secoc.STALE_FRESHNESS] == 2


def test_replay_is_stale_with_complete_fv():
    tx, rx = pair(layout_for_profile(1, 1, 4))
    f = protect(tx)
    assert rx.verify(f, len(f)) == secoc.OK
    assert rx.verify(f, len(f)) == secoc.STALE_FRESHNESS


def test_complete_fv_counter_exhausts():
    tx, rx = pair(layout_for_profile(1, 1, 4))
    out = bytearray(8)
    for _ in range(255):
        assert tx.protect(PAYLOAD, 4, out) == 8
    assert tx.protect(PAYLOAD, 4, out) == -secoc.FRESHNESS_UNAVAILABLE


def test_tampering_any_bit_is_a_mac_mismatch():
    tx, rx = pair(layout_for_profile(1, 1, 4, fv_bits=32))
    frame = protect(tx)
    for bit in range(len(frame) * 8):
        bad = bytearray(frame)
        bad[bit >> 3] ^= 0x80 >> (bit & 7)
        r = rx.verify(bad, len(bad))
        assert r in (secoc.MAC_MISMATCH, secoc.STALE_FRESHNESS), (bit, r)
    assert rx.verify(frame, len(frame)) == secoc.OK


def test_wrong_key_and_no_key():
    tx, rx = pair(layout_for_profile(1, 1, 4))
    rx.key = Cmac(bytes(16))
    f = protect(tx)
    assert rx.verify(f, len(f)) == secoc.MAC_MISMATCH
    rx.key = None
    assert rx.verify(f, len(f)) == secoc.NO_KEY
    tx.key = None
    assert tx.protect(PAYLOAD, 4, bytearray(8)) == -secoc.NO_KEY


def test_previous_key_verifies_only_during_grace():
    tx, rx = pair(layout_for_profile(1, 1, 4, fv_bits=32))
    old_key = tx.key
    in_flight = protect(tx)
    # The switch: the new key becomes current with its own freshness state,
    # the old one stays as alt for the grace period.
    rx.alt_key, rx.alt_fvm = Cmac(bytes(16)), CounterFreshness(32, 8, 2)
    rx.swap_keys()
    assert rx.verify(in_flight, len(in_flight)) == secoc.OK and rx.used_alt
    tx.key, tx.fvm = rx.key, CounterFreshness(32, 8)
    new = protect(tx)
    assert rx.verify(new, len(new)) == secoc.OK and not rx.used_alt
    assert rx.verify(in_flight, len(in_flight)) == secoc.STALE_FRESHNESS
    assert rx.verify(new, len(new)) == secoc.STALE_FRESHNESS
    rx.alt_key = None  # grace over
    tx.key = old_key
    late = protect(tx)
    assert rx.verify(late, len(late)) == secoc.MAC_MISMATCH


def test_pending_key_verifies_before_activation():
    tx, rx = pair(layout_for_profile(1, 1, 4, fv_bits=32))
    rx.alt_key, rx.alt_fvm = Cmac(bytes(16)), CounterFreshness(32, 8, 2)
    early = SecOCTx(tx.layout, CounterFreshness(32, 8))
    early.key = rx.alt_key  # a sender that activated first
    f = protect(early)
    assert rx.verify(f, len(f)) == secoc.OK and rx.used_alt
    f = protect(tx)  # one that has not yet
    assert rx.verify(f, len(f)) == secoc.OK and not rx.used_alt


def test_malformed_lengths():
    tx, rx = pair(layout_for_profile(1, 1, 4))
    f = protect(tx)
    assert rx.verify(f, 7) == secoc.MALFORMED_LENGTH
    assert rx.verify(f + b"\x00", 9) == secoc.MALFORMED_LENGTH
    assert rx.verify(b"", 0) == secoc.MALFORMED_LENGTH


def test_failure_counters_saturate_at_255():
    tx, rx = pair(layout_for_profile(1, 1, 4))
    for _ in range(300):
        rx.verify(b"", 0)
    assert rx.failures[secoc.MALFORMED_LENGTH] == 255
    assert rx.last_reason == secoc.MALFORMED_LENGTH


def test_fd_frames_pad_to_valid_lengths():
    for plen, expect in ((4, 8), (5, 12), (20, 24), (21, 32), (44, 48), (60, 64)):
        tx, rx = pair(layout_for_profile(1, 9, plen, fv_bits=32, fd=True))
        payload = bytes(range(plen))
        f = protect(tx, payload)
        assert len(f) == expect, (plen, len(f))
        assert f[plen + 4 :] == bytes(expect - plen - 4)
        assert rx.verify(f, len(f)) == secoc.OK
        assert payload_of(rx, f) == payload


def test_layout_rejects_what_does_not_fit():
    assert raises(ValueError, layout_for_profile, 1, 1, 5)  # 5 + 4 > 8 on classic CAN
    assert raises(ValueError, layout_for_profile, 1, 1, 61, None, True)
    assert raises(ValueError, PduLayout, 0x10000, 4, 8, 8, 24)
    assert raises(ValueError, SecOCRx, layout_for_profile(1, 1, 4), CounterFreshness(32, 8))


def test_length_header_carries_variable_payloads():
    lay = layout_for_profile(1, 5, 40, fv_bits=32, fd=True, header_bits=8)
    tx, rx = pair(lay)
    for plen in (0, 1, 7, 39, 40):
        payload = bytes(range(plen))
        f = protect(tx, payload)
        assert f[0] == plen
        assert rx.verify(f, len(f)) == secoc.OK
        assert payload_of(rx, f) == payload
    bad = bytearray(f)
    bad[0] = 41
    assert rx.verify(bad, len(bad)) == secoc.MALFORMED_LENGTH


def test_empty_frame_for_a_header_layout_is_malformed():
    # Found by the property tests: an empty frame once took the fixed-length path.
    lay = layout_for_profile(1, 5, 40, fv_bits=32, fd=True, header_bits=8)
    _, rx = pair(lay)
    assert rx.verify(bytearray(64), 0) == secoc.MALFORMED_LENGTH
