# SP 800-108 counter-mode KDF with AES-CMAC against NIST CAVP KDFCTR vectors
# (tests/vectors/kdf_sp800_108_ctr_cmac.json), and the SecOC key encoding.
from fwtest import vectors, h, raises
from keyagent.crypto import kdf

V = vectors("kdf_sp800_108_ctr_cmac.json")


def test_cavp_counter_mode_cmac_aes128():
    assert V["prf"] == "CMAC_AES128" and V["counter_location"] == "BEFORE_FIXED" and V["rlen_bits"] == 32
    for case in V["cases"]:
        out = kdf.kdf_counter(h(case["ki"]), h(case["fixed_input"]), case["l_bits"] // 8)
        assert out == h(case["ko"]), case["ki"]


def test_fixed_input_encoding():
    # Label || 0x00 || Context || [L]_32, as documented in keyagent/crypto/kdf.py.
    assert kdf.fixed_input(b"AB", b"\x01\x02\x03", 256) == h("4142" "00" "010203" "00000100")
    f = kdf.fixed_input(kdf.SECOC_LABEL, kdf.secoc_context(0x0102, 7), 128)
    assert f == h("716b642d7365636f63207365636f63206b6579" "00" "0102" "00000007" "00000080")


def test_secoc_key_is_derive_with_that_encoding():
    k = bytes(range(16))
    ctx = kdf.secoc_context(0x0102, 7)
    assert kdf.secoc_key(k, 0x0102, 7) == kdf.kdf_counter(k, kdf.fixed_input(kdf.SECOC_LABEL, ctx, 128), 16)


def test_keys_differ_by_cluster_and_epoch():
    k = bytes(range(16))
    keys = set()
    for cluster in (0, 1, 0x100):
        for epoch in (0, 1, 0x10000):
            keys.add(bytes(kdf.secoc_key(k, cluster, epoch)))
    assert len(keys) == 9


def test_length_binds_output():
    # [L]_32 is part of the input: a 32-byte derivation does not start with
    # the 16-byte one.
    k = bytes(16)
    assert kdf.derive(k, b"x", b"", 32)[0:16] != kdf.derive(k, b"x", b"", 16)


def test_misuse_raises():
    assert raises(ValueError, kdf.kdf_counter, bytes(32), b"", 16)
    assert raises(ValueError, kdf.kdf_counter, bytes(16), b"", 0)
    assert raises(ValueError, kdf.secoc_context, 0x10000, 0)
    assert raises(ValueError, kdf.secoc_context, 0, 1 << 32)
