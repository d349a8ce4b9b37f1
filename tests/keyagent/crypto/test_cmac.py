# AES-CMAC against RFC 4493 section 4 (tests/vectors/aes_cmac_rfc4493.json).
from fwtest import vectors, h, raises
from keyagent.crypto.cmac import Cmac, aes_cmac

V = vectors("aes_cmac_rfc4493.json")


def test_subkeys():
    c = Cmac(h(V["key"]))
    assert bytes(c.sub[0:16]) == h(V["subkeys"]["k1"])
    assert bytes(c.sub[16:32]) == h(V["subkeys"]["k2"])


def test_rfc4493_macs():
    for case in V["cases"]:
        assert aes_cmac(h(V["key"]), h(case["message"])) == h(case["mac"]), case["message"]


def test_digest_into_reuses_buffers():
    c = Cmac(h(V["key"]))
    buf = bytearray(80)
    out = bytearray(16)
    for case in V["cases"]:
        msg = h(case["message"])
        buf[0 : len(msg)] = msg
        c.digest_into(buf, len(msg), out)
        assert bytes(out) == h(case["mac"])


def test_truncated_verify():
    c = Cmac(h(V["key"]))
    msg = h(V["cases"][1]["message"])
    tag = h(V["cases"][1]["mac"])
    assert c.verify(msg, tag[0:3])
    bad = bytearray(tag[0:3])
    bad[2] ^= 1
    assert not c.verify(msg, bad)


def test_rejects_wrong_key_length():
    assert raises(ValueError, Cmac, bytes(15))


def test_zeroise_clears_subkeys():
    c = Cmac(h(V["key"]))
    c.zeroise()
    assert bytes(c.sub) == bytes(32)
