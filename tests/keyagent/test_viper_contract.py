# The integer contract of every viper function, pinned where a machine word
# differs: viper integers are 32 bits on a Cortex-M and 64 on x86-64, so a
# value that is right on the unix port can come back negative or truncated on
# a board. Each function is checked at and across 2**30 (MicroPython's small
# int limit on 32 bits), 2**31 (the sign bit) and 2**32 (the word) against
# its plain version and values computed here. Under CPython (no viper) the
# plain versions face the same checks; `make arm-test` runs this on ARM.
from keyagent.crypto import aes_soft, bufops
from keyagent.crypto.cmac import Cmac
from keyagent.optical import link
from keyagent.secoc import bitpack, frame_mac

WORDS = (0, 1, 2**30 - 1, 2**30, 2**30 + 1, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 2, 2**32 - 1)


def _viper(name):
    # The viper module keyagent.<name>, or None where there is no viper emitter.
    try:
        mod = __import__("keyagent." + name)
        for part in name.split("."):
            mod = getattr(mod, part)
        return mod
    except (ImportError, SyntaxError, NameError, AttributeError):
        return None


FRAME_MAC_VIPER = _viper("secoc.frame_mac_viper")


def _read_bits_impls():
    impls = [frame_mac.read_bits]
    if FRAME_MAC_VIPER:
        impls.append(FRAME_MAC_VIPER.read_bits)
    return impls


def test_read_bits_is_unsigned_up_to_32_bits_at_any_bit_offset():
    for value in WORDS:
        for nbits in (30, 31, 32):
            if value >> nbits:
                continue
            for pos in (0, 3, 7, 13):
                buf = bytearray(b"\xff" * 8)
                bitpack.put_bits(buf, pos, value, nbits)
                for read_bits in _read_bits_impls():
                    assert read_bits(buf, pos, nbits) == value, (read_bits, value, nbits, pos)


def test_read_bits_of_the_issue_example():
    # 32 bits whose top bit is set: negative on ARM before read_bits was unsigned.
    buf = bytes((0xFF, 0xEE, 0xDD, 0xCC, 0x00))
    for read_bits in _read_bits_impls():
        assert read_bits(buf, 0, 32) == 0xFFEEDDCC
        assert read_bits(buf, 4, 32) == 0xFEEDDCC0


def _endpoint_state(fv_bytes, tx_fv_bits, fv_bits=64):
    st = bytearray(112)
    # Data ID 0x0123, 24 MAC bits, no length header, CAN FD padded with 0xAA,
    # 4-byte PDUs.
    st[0], st[1], st[2], st[3], st[4], st[6], st[7] = 0x01, 0x23, fv_bytes, tx_fv_bits, 24, 1, 0xAA
    st[8], st[9] = fv_bits, 4
    return st, memoryview(st)[96:112]


def test_mac_frame_viper_agrees_with_plain_for_every_fv_below_2_to_31():
    # A given FV is a non-negative machine word on every core (fv < 0 asks
    # for the counter path), so below 2**31; the engine gives at most 2**30 - 1.
    if FRAME_MAC_VIPER is None:
        return  # CPython: no viper version to hold to the plain one
    key = Cmac(bytes(range(16)))
    payload = b"\x11\x22\x33\x44"
    for fv in [w for w in WORDS if w < 2**31]:
        for fv_bytes, tx_bits in ((4, 30), (4, 31), (4, 32), (8, 32), (8, 16)):
            frames = []
            for impl in (frame_mac, FRAME_MAC_VIPER):
                st, x = _endpoint_state(fv_bytes, tx_bits)
                out = bytearray(64)
                n = impl.mac_frame(key.enc, key.sub, st, x, None, payload, 4, fv, out)
                frames.append(bytes(out[:n]))
            assert frames[0] == frames[1] and len(frames[0]) == 12, (fv, fv_bytes, tx_bits)
            for impl in (frame_mac, FRAME_MAC_VIPER):
                st, x = _endpoint_state(fv_bytes, tx_bits)
                got = impl.mac_frame(key.enc, key.sub, st, x, None, frames[0], 4, fv, None)
                wrong = impl.mac_frame(key.enc, key.sub, st, x, None, frames[0], 4, fv ^ 1, None)
                assert (got, wrong) == (1, 0), (impl, fv, fv_bytes, tx_bits)


def test_mac_frame_viper_packs_and_checks_every_bit_offset_and_width():
    # The truncated MAC after 0..9 FV bits, whole bytes and partial ones,
    # some straddling a byte boundary: sealed like the plain version, and
    # every flipped MAC bit refused.
    if FRAME_MAC_VIPER is None:
        return
    key = Cmac(bytes(range(16)))
    payload = b"\x11\x22\x33\x44"
    for tx_bits in range(10):
        for mac_bits in (1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 21, 24, 28, 33, 64, 100, 128):
            frames = []
            for impl in (frame_mac, FRAME_MAC_VIPER):
                st, x = _endpoint_state(2, tx_bits, 16)
                st[4] = mac_bits
                out = bytearray(64)
                n = impl.mac_frame(key.enc, key.sub, st, x, None, payload, 4, 0x2A5, out)
                frames.append(bytes(out[:n]))
            assert frames[0] == frames[1], (tx_bits, mac_bits)
            st, x = _endpoint_state(2, tx_bits, 16)
            st[4] = mac_bits
            check = FRAME_MAC_VIPER.mac_frame
            assert check(key.enc, key.sub, st, x, None, frames[0], 4, 0x2A5, None) == 1
            for bit in range(32 + tx_bits, 32 + tx_bits + mac_bits):
                bad = bytearray(frames[0])
                bad[bit >> 3] ^= 0x80 >> (bit & 7)
                assert check(key.enc, key.sub, st, x, None, bad, 4, 0x2A5, None) == 0, (tx_bits, mac_bits, bit)


def _mac_frame_impls():
    return [frame_mac] + ([FRAME_MAC_VIPER] if FRAME_MAC_VIPER else [])


def _counter(value):
    # A CounterFreshness counter buffer: 9 bytes, little-endian.
    return bytearray(value.to_bytes(9, "little"))


def test_mac_frame_counter_path_stops_below_2_to_30():
    # With fv < 0 the FV comes from the counter buffer and the counter moves
    # on; values from 2**30 on (not small ints on a 32-bit core) are left to
    # the caller's general way: 0, the buffer untouched, both versions alike.
    key = Cmac(bytes(range(16)))
    payload = b"\x11\x22\x33\x44"
    for fv_bits, fv_bytes in ((24, 3), (64, 8)):
        for nxt in (1, 2**24 - 1, 2**24, 2**30 - 2, 2**30 - 1, 2**30, 2**30 + 1,
                    2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**33 + 5, 2**64):
            fast = nxt <= min(2**fv_bits - 1, 2**30 - 1)
            for impl in _mac_frame_impls():
                st, x = _endpoint_state(fv_bytes, 8, fv_bits)
                want, want_n = bytearray(64), 0
                if nxt < 2**fv_bits:
                    want_n = frame_mac.mac_frame(key.enc, key.sub, st, x, None, payload, 4, nxt, want)
                out, count = bytearray(64), _counter(nxt)
                n = impl.mac_frame(key.enc, key.sub, st, x, count, payload, 4, -1, out)
                if fast:
                    assert n == want_n == 8 and out == want and count == _counter(nxt + 1), (impl, nxt)
                else:
                    assert n == 0 and count == _counter(nxt) and out == bytearray(64), (impl, nxt)
                if nxt >= 2**fv_bits:
                    continue
                # Checking: nxt is the lowest value the receiver accepts.
                count = _counter(nxt)
                got = impl.mac_frame(key.enc, key.sub, st, x, count, want, 4, -1, None)
                assert got == (nxt if fast else 0), (impl, nxt, got)
                assert count == _counter(nxt + 1 if fast else nxt), (impl, nxt)
                # Nothing lower than nxt: that frame again is refused.
                assert impl.mac_frame(key.enc, key.sub, st, x, count, want, 4, -1, None) == 0


def _crc32_reference(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32_with_and_without_the_top_bits_set():
    impls = [link._crc32_plain_into, link.crc32_into]
    viper = _viper("optical.crc32_viper")
    if viper:
        impls.append(viper.crc32_into)
    # CRCs below 2**30, between 2**30 and 2**31, and at or above 2**31.
    cases = [b"", b"\x03", b"\x01", b"123456789", b"\x00" * 4, b"\xff" * 4, bytes(range(256))]
    seen = set()
    for data in cases:
        want = _crc32_reference(data)
        seen.add(want >> 30)
        for crc32_into in impls:
            out = bytearray(6)
            crc32_into(data, len(data), out, 1)
            assert int.from_bytes(bytes(out[1:5]), "big") == want, (crc32_into, data)
            assert out[0] == 0 and out[5] == 0
    assert seen == {0, 1, 2, 3}  # the cases do cross 2**30, 2**31 and reach 2**32 - 1


def test_bufops_carry_bytes_not_words():
    # bufops' integers are byte values, offsets and lengths: the top bit of a
    # byte must not turn into a sign, and ct_equal must see a difference in
    # any byte, the last included.
    impls = [bufops]
    viper = _viper("crypto.bufops_viper")
    if viper:
        impls.append(viper)
    src = bytes((0x80, 0xFF, 0x7F, 0x01) * 4)
    for ops in impls:
        dst = bytearray(b"\xff" * 16)
        ops.xor_into(dst, src, 0, 16)
        assert bytes(dst) == bytes(b ^ 0xFF for b in src)
        ops.copy_into(dst, 2, src, 1, 8)
        assert bytes(dst[2:10]) == src[1:9]
        ops.fill(dst, 0, 16, 0xFF)
        assert bytes(dst) == b"\xff" * 16
        assert ops.ct_equal(src, bytes(src), 16)
        for i in (0, 15):
            other = bytearray(src)
            other[i] ^= 0x80
            assert not ops.ct_equal(src, other, 16)


def test_aes_soft_rounds_on_all_ones_and_top_bit_bytes():
    # AES-128 of the all-ones block under the all-ones key (computed with an
    # independent implementation): every byte of state and key has its top bit set.
    key = b"\xff" * 16
    want = bytes.fromhex("bcbf217cb280cf30b2517052193ab979")
    impls = [aes_soft.SoftAes]
    viper = aes_soft.viper_impl()  # None where there is no viper emitter
    if viper:
        impls.append(viper)
    for cls in impls:
        out = bytearray(16)
        cls(key).encrypt(b"\xff" * 16, out)
        assert bytes(out) == want, cls
