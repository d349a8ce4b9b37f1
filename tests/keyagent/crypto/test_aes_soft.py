# The AES-128 written in MicroPython (keyagent.crypto.aes_soft) against FIPS-197 and
# SP 800-38A (tests/vectors/aes128_fips197.json), and CMAC (RFC 4493) run over
# it through the keyagent.crypto.aes seam. Under MicroPython both the plain and the
# viper rounds are checked, whatever mode the runner is in.
from fwtest import vectors, h, raises
from keyagent.crypto import aes
from keyagent.crypto import aes_soft
from keyagent.crypto.cmac import Cmac

V = vectors("aes128_fips197.json")
CMAC_V = vectors("aes_cmac_rfc4493.json")


def _impls():
    viper = aes_soft.viper_impl()  # None on CPython
    return [aes_soft.SoftAes] + ([viper] if viper else [])


def test_key_expansion():
    kv = V["key_expansion"]
    ctx = bytearray(208)
    aes_soft.expand_key(h(kv["key"]), ctx)
    assert bytes(ctx[16:32]) == h(kv["round_key_1"])
    assert bytes(ctx[160:176]) == h(kv["round_key_10"])


def test_vectors_every_impl():
    out = bytearray(16)
    for impl in _impls():
        for case in V["cases"]:
            impl(h(case["key"])).encrypt(h(case["plaintext"]), out)
            assert bytes(out) == h(case["ciphertext"]), case["name"]


def test_decrypt_vectors_in_place():
    out = bytearray(16)
    for case in V["cases"]:
        d = aes_soft.new_decrypt(h(case["key"]))
        d.decrypt(h(case["ciphertext"]), out)
        assert bytes(out) == h(case["plaintext"]), case["name"]
        d.decrypt(out, out)  # in place: decrypting twice is not the identity
        assert bytes(out) != h(case["plaintext"])
    buf = bytearray(h(V["cases"][1]["ciphertext"]))
    aes_soft.new_decrypt(h(V["cases"][1]["key"])).decrypt(buf, buf)
    assert bytes(buf) == h(V["cases"][1]["plaintext"])


def test_decrypt_inverts_encrypt_on_a_chain():
    key = h(V["cases"][0]["key"])
    enc = aes_soft.new(key)
    dec = aes_soft.new_decrypt(key)
    x = bytearray(range(16))
    for _ in range(100):
        enc.encrypt(x, x)
    for _ in range(100):
        dec.decrypt(x, x)
    assert bytes(x) == bytes(range(16))


def test_in_place_and_memoryview():
    # CMAC encrypts its chaining buffer in place; memoryviews are slices of frames.
    case = V["cases"][0]
    for impl in _impls():
        buf = bytearray(h(case["plaintext"]))
        impl(h(case["key"])).encrypt(buf, buf)
        assert bytes(buf) == h(case["ciphertext"])
        frame = bytearray(4) + h(case["plaintext"]) + bytearray(20)
        out = bytearray(32)
        impl(h(case["key"])).encrypt(memoryview(frame)[4:20], memoryview(out)[8:24])
        assert bytes(out[8:24]) == h(case["ciphertext"])
        assert bytes(out[0:8]) == bytes(8) and bytes(out[24:]) == bytes(8)


def test_plain_and_viper_agree_on_a_chain():
    # 200 chained blocks: any difference in a rarely used table entry shows.
    results = []
    for impl in _impls():
        c = impl(h(V["cases"][1]["key"]))
        x = bytearray(16)
        for _ in range(200):
            c.encrypt(x, x)
        results.append(bytes(x))
    for r in results:
        assert r == results[0]


def test_rejects_wrong_key_length():
    assert raises(ValueError, aes_soft.new, bytes(24))


def test_zeroise_clears_schedule():
    c = aes_soft.new(h(V["cases"][0]["key"]))
    c.zeroise()
    assert bytes(c._ctx) == bytes(len(c._ctx))


def test_cmac_rfc4493_over_the_forced_fallback():
    was = aes.use_soft(True)
    try:
        assert aes.BACKEND == "aes_soft"
        c = Cmac(h(CMAC_V["key"]))
        assert bytes(c.sub[0:16]) == h(CMAC_V["subkeys"]["k1"])
        assert bytes(c.sub[16:32]) == h(CMAC_V["subkeys"]["k2"])
        for case in CMAC_V["cases"]:
            assert c.digest(h(case["message"])) == h(case["mac"])
    finally:
        aes.use_soft(was)
    assert (aes.BACKEND == "aes_soft") == was
