# SHE key update protocol against the published example (tests/vectors/she.json),
# and the receiving key store's refusals.
from fwtest import vectors, h, raises
from keyagent.crypto import she
from keyagent.crypto.she_store import SheKeyStore

V = vectors("she.json")
C = V["cases"][0]


def _messages(case=C, **over):
    a = dict(case)
    a.update(over)
    return she.update_messages(
        h(a["uid"]), a["key_id"], a["auth_id"], h(a["auth_key"]), h(a["new_key"]), a["counter"], a["flags"]
    )


def _store(flags=0, counter=0, with_target=False):
    st = SheKeyStore(h(C["uid"]))
    st.provision(she.MASTER_ECU_KEY, h(C["auth_key"]))
    if with_target:
        st.provision(C["key_id"], bytes(16), counter, flags)
    return st


def test_constants():
    assert she.KEY_UPDATE_ENC_C == h(V["constants"]["KEY_UPDATE_ENC_C"])
    assert she.KEY_UPDATE_MAC_C == h(V["constants"]["KEY_UPDATE_MAC_C"])


def test_mp_compression_example():
    ex = V["mp_compression_example"]
    assert she.mp_compress(h(ex["input"])) == h(ex["output"])
    assert raises(ValueError, she.mp_compress, bytes(17))


def test_derived_keys():
    ks = she.derive_keys(h(C["auth_key"]), h(C["new_key"]))
    for i in range(4):
        assert ks[i] == h(C["k%d" % (i + 1)]), i


def test_m1_to_m5():
    ms = _messages()
    for i in range(5):
        assert ms[i] == h(C["m%d" % (i + 1)]), i


def test_decrypt_m2_round_trip():
    k1 = she.derive_keys(h(C["auth_key"]), h(C["new_key"]))[0]
    counter, flags, key = she.decrypt_m2(k1, h(C["m2"]))
    assert (counter, flags, bytes(key)) == (1, 0, h(C["new_key"]))
    m2 = she.encrypt_m2(k1, 0x0ABCDEF1, 0x15, bytes(range(16)))
    counter, flags, key = she.decrypt_m2(k1, m2)
    assert (counter, flags, bytes(key)) == (0x0ABCDEF1, 0x15, bytes(range(16)))


def test_bad_arguments_raise():
    assert raises(ValueError, lambda: _messages(counter=1 << 28))
    assert raises(ValueError, lambda: _messages(flags=32))
    assert raises(ValueError, lambda: _messages(uid="00"))
    assert raises(ValueError, lambda: _messages(key_id=16))


def test_store_loads_and_answers_published_m4_m5():
    st = _store()
    code, m4, m5 = st.load_key(h(C["m1"]), h(C["m2"]), h(C["m3"]))
    assert code == she.ERC_NO_ERROR
    assert m4 == h(C["m4"]) and m5 == h(C["m5"])
    assert bytes(st.key(4)) == h(C["new_key"]) and st.counter(4) == 1 and st.loaded == 1


def test_store_rejects_replay_and_equal_counter():
    st = _store()
    ms = _messages()
    assert st.load_key(ms[0], ms[1], ms[2])[0] == she.ERC_NO_ERROR
    assert st.load_key(ms[0], ms[1], ms[2]) == (she.ERC_KEY_UPDATE_ERROR, None, None)
    older = _messages(counter=0)
    assert st.load_key(older[0], older[1], older[2])[0] == she.ERC_KEY_UPDATE_ERROR
    newer = _messages(counter=2)
    assert st.load_key(newer[0], newer[1], newer[2])[0] == she.ERC_NO_ERROR
    assert st.rejected == {she.ERC_KEY_UPDATE_ERROR: 2}


def test_store_rejects_tampered_m3_m2_m1():
    st = _store()
    m1, m2, m3 = h(C["m1"]), bytearray(h(C["m2"])), bytearray(h(C["m3"]))
    m3[15] ^= 1
    assert st.load_key(m1, m2, m3)[0] == she.ERC_KEY_UPDATE_ERROR
    m3[15] ^= 1
    m2[20] ^= 0x80
    assert st.load_key(m1, m2, m3)[0] == she.ERC_KEY_UPDATE_ERROR
    m2[20] ^= 0x80
    other_uid = bytearray(m1)
    other_uid[3] = 7
    assert st.load_key(other_uid, m2, m3)[0] == she.ERC_KEY_UPDATE_ERROR
    assert st.key(4) is None
    assert st.rejected[she.ERC_KEY_UPDATE_ERROR] == 3


def test_store_rejects_uid_of_another_ecu():
    # Authentic messages, but for a different UID.
    ms = _messages(uid="0000000000000000000000000000aa")
    st = _store()
    assert st.load_key(ms[0], ms[1], ms[2])[0] == she.ERC_KEY_UPDATE_ERROR


def test_wildcard_uid_and_wildcard_flag():
    ms = _messages(uid="00" * 15)
    st = _store()
    code, m4, m5 = st.load_key(ms[0], ms[1], ms[2])
    assert code == she.ERC_NO_ERROR
    assert m4[0:15] == h(C["uid"])  # the answer carries the real UID
    assert m5 == h(C["m5"])  # the real UID's answer
    try:  # a sender checking by M5 must name the UID
        she.KeyUpdate(bytes(15), 4, 1, h(C["auth_key"]), h(C["new_key"]), 1, 0)
        raise AssertionError("the wildcard UID was accepted")
    except ValueError:
        pass
    st = _store(flags=she.FLAG_WILDCARD, with_target=True)
    assert st.load_key(ms[0], ms[1], ms[2])[0] == she.ERC_KEY_UPDATE_ERROR


def test_write_protected_slot():
    st = _store(flags=she.FLAG_WRITE_PROTECTION, with_target=True)
    assert st.load_key(h(C["m1"]), h(C["m2"]), h(C["m3"]))[0] == she.ERC_KEY_WRITE_PROTECTED
    assert bytes(st.key(4)) == bytes(16)


def test_empty_auth_key_and_forbidden_pairs():
    st = SheKeyStore(h(C["uid"]))
    assert st.load_key(h(C["m1"]), h(C["m2"]), h(C["m3"]))[0] == she.ERC_KEY_EMPTY
    st = _store()
    for key_id, auth_id in ((0, 1), (14, 0), (4, 5), (1, 4), (3, 4)):
        m1 = she.build_m1(h(C["uid"]), key_id, auth_id)
        assert st.load_key(m1, h(C["m2"]), h(C["m3"]))[0] == she.ERC_KEY_INVALID
    assert st.rejected == {she.ERC_KEY_INVALID: 5}


def test_self_authorised_update():
    # KEY_1 may update itself: auth ID = key ID.
    st = _store()
    st.provision(4, h(C["new_key"]), 5)
    ms = _messages(auth_id=4, auth_key=C["new_key"], new_key=C["auth_key"], counter=6)
    assert st.load_key(ms[0], ms[1], ms[2])[0] == she.ERC_NO_ERROR
    assert bytes(st.key(4)) == h(C["auth_key"])


def test_garbage_lengths_are_counted():
    st = _store()
    assert st.load_key(b"", b"x" * 31, bytes(16))[0] == she.ERC_GENERAL_ERROR
    assert st.rejected == {she.ERC_GENERAL_ERROR: 1}


def test_sender_checks_answer():
    upd = she.KeyUpdate(h(C["uid"]), 4, 1, h(C["auth_key"]), h(C["new_key"]), 1, 0)
    assert (upd.m1, upd.m2, upd.m3) == (h(C["m1"]), h(C["m2"]), h(C["m3"]))
    assert upd.check_m5(h(C["m5"]))
    assert not upd.check_m5(h(C["m5"])[0:15]) and not upd.check_m5(b"")
    bad5 = bytearray(h(C["m5"]))
    bad5[0] ^= 1
    assert not upd.check_m5(bad5)
    # The answer of an update with another counter, or for another UID, is refused.
    assert not upd.check_m5(_messages(counter=2)[4])
    assert not upd.check_m5(_messages(uid="0000000000000000000000000000aa")[4])


def test_erase_zeroises():
    st = _store()
    k = st.key(1)
    st.erase(1)
    assert bytes(k) == bytes(16) and st.key(1) is None


def test_store_garbage_never_raises():
    # Fixed-seed LCG garbage, and authentic-looking M1 headers with random
    # M2/M3: every attempt is a counted refusal, no key is loaded.
    st = _store()
    seed = 99
    for i in range(200):
        parts = []
        for n in (16, 32, 16):
            b = bytearray(n)
            for j in range(n):
                seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
                b[j] = (seed >> 16) & 0xFF
            parts.append(b)
        if i & 1:
            parts[0] = bytearray(h(C["m1"]))
        code = st.load_key(parts[0], parts[1], parts[2])[0]
        assert code != she.ERC_NO_ERROR
    assert sum(st.rejected.values()) == 200 and st.loaded == 0 and st.key(4) is None
