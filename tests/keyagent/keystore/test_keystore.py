# The gateway's key stock (keyagent.keystore): AES key wrap against RFC 3394
# (tests/vectors/aes_keywrap_rfc3394.json), keys taken once and counted per
# peer, the low-stock event, the flash image sealed under the device key
# (tampering, another device, moved slots), and the stock as the rekey
# master's key source on a small vehicle (SecOC keys delivered by SHE).
from fwtest import vectors, h, raises
from keyagent.keystore.keywrap import KeyWrap, UnwrapError
from keyagent.keystore.source import StockKeySource
from keyagent.keystore.store import KeyStore, StoreCorrupt

V = vectors("aes_keywrap_rfc3394.json")
DEVICE = bytes(range(16))


def kid(n):
    return bytes(15) + bytes((n,))


def key(n):
    return bytes((n * 3 + i) & 0xFF for i in range(32))


def stocked(n=6, low_water=2):
    s = KeyStore(DEVICE, capacity=8, low_water=low_water)
    for i in range(n):
        assert s.add("rsu-1" if i % 2 == 0 else "rsu-2", kid(i), key(i))
    return s


def test_rfc3394_wrap_and_unwrap():
    for case in V["cases"]:
        w = KeyWrap(h(case["kek"]))
        assert w.wrap(h(case["key_data"])) == h(case["ciphertext"])
        assert w.unwrap(h(case["ciphertext"])) == h(case["key_data"])


def test_unwrap_refuses_a_changed_byte_or_another_kek():
    case = V["cases"][0]
    ct = h(case["ciphertext"])
    for i in range(len(ct)):
        bad = bytearray(ct)
        bad[i] ^= 0x01
        assert raises(UnwrapError, KeyWrap(h(case["kek"])).unwrap, bytes(bad))
    assert raises(UnwrapError, KeyWrap(bytes(16)).unwrap, ct)
    assert raises(ValueError, KeyWrap(bytes(16)).wrap, bytes(12))


def test_keys_are_taken_once_per_peer_and_counted():
    s = stocked()
    assert (s.count(), s.count("rsu-1"), s.count("rsu-2"), s.count("rsu-9")) == (6, 3, 3, 0)
    got = s.take("rsu-1")
    assert got[0] == kid(0) and bytes(got[1]) == key(0)
    assert s.take("rsu-2", kid(5))[0] == kid(5)
    assert s.take("rsu-2", kid(5)) is None  # once
    assert s.take("rsu-1", kid(1)) is None  # rsu-2's key, not rsu-1's
    assert s.take("rsu-9") is None
    assert s.counters == {"added": 6, "taken": 2, "empty": 3, "corrupt": 0}
    assert s.count("rsu-1") == 2 and s.count("rsu-2") == 2


def test_low_stock_event_when_a_peer_runs_down():
    s = stocked(low_water=1)
    s.take("rsu-1")
    assert s.pop_event() is None
    s.take("rsu-1")
    assert s.pop_event() == ("low_stock", "rsu-1", 1)
    s.take("rsu-1")
    assert s.pop_event() == ("low_stock", "rsu-1", 0)
    assert s.take("rsu-1") is None and s.pop_event() is None


def test_full_store_says_so_and_bad_keys_are_refused():
    s = stocked(8)
    assert not s.add("rsu-1", kid(9), key(9))
    assert raises(ValueError, s.add, "rsu-1", kid(9), key(9)[0:16])
    assert raises(ValueError, KeyStore, bytes(8))


def test_image_holds_no_key_and_comes_back_without_taken_keys():
    s = stocked()
    s.take("rsu-1")
    image = s.image()
    for i in range(6):
        assert image.find(key(i)[0:8]) < 0  # wrapped, never in clear
    again = KeyStore.load(DEVICE, image)
    assert again.peers == ["rsu-1", "rsu-2"] and again.count() == 5
    assert again.counters["taken"] == 1 and again.counters["added"] == 6
    assert again.take("rsu-1", kid(0)) is None
    got = again.take("rsu-1")
    assert got[0] == kid(2) and bytes(got[1]) == key(2)


def test_changed_image_or_another_device_is_refused():
    image = stocked().image()
    for at in (0, 5, 12, 17, 40, len(image) // 2, len(image) - 1):
        bad = bytearray(image)
        bad[at] ^= 0x40
        assert raises(StoreCorrupt, KeyStore.load, DEVICE, bytes(bad)), at
    assert raises(StoreCorrupt, KeyStore.load, bytes(16), image)
    assert raises(StoreCorrupt, KeyStore.load, DEVICE, image[0:20])
    assert raises(StoreCorrupt, KeyStore.load, DEVICE, b"")


def test_a_slot_moved_to_another_key_id_is_caught():
    # RAM corruption or an attacker with the device key's MAC but not the
    # wrap (not possible by construction, but the slot check holds anyway).
    s = stocked(2)
    s._slots[15] ^= 0x01  # slot 0's clear key ID now says kid(1)
    assert s.take("rsu-1") is None
    assert s.counters["corrupt"] == 1 and s.count("rsu-1") == 0


def test_stock_source_gives_the_master_keys_and_persists_first():
    s = stocked()
    s.add("secoc", kid(20), key(20))
    saved = []
    src = StockKeySource(s, persist=saved.append)
    seq = src.get_new_key(0, 256)
    assert src.next_timer(0) == 0
    r = src.next_result()
    assert (r.seq, r.status, r.key_id, bytes(r.key)) == (seq, 0, kid(20), key(20))
    assert len(saved) == 1 and KeyStore.load(DEVICE, saved[0]).count("secoc") == 0
    src.get_new_key(1, 256)
    r = src.next_result()
    assert r.status == 2 and r.key is None and src.next_result() is None and src.next_timer(2) == -1
    src.get_new_key(3, 128)  # the stock holds 256-bit keys only
    assert src.next_result().status == 7


def test_vehicle_without_qkd_hardware_gets_secoc_keys_from_the_stock():
    from keyagent.agent import KeyAgent
    from vehicle_sim import Sim, config

    sim = Sim(config(direct=0, gateway=2))
    s = KeyStore(DEVICE, capacity=4)
    for i in range(2):
        s.add("secoc", kid(i), key(i))
    master = KeyAgent(sim.configs[0], sim.storages[0], StockKeySource(s))
    master.start(sim.t)
    sim.agents[0] = master
    sim.run(2500, traffic_every=0)
    # Two stocked keys: epochs 1 and 2, then the stock is empty and the
    # vehicle stays on epoch 2 (never unauthenticated) and says so.
    assert sim.epochs() == {0: 2, 1: 2, 2: 2}
    assert s.count() == 0
    assert [e[1] for e in master.events].count("qkd_key_unavailable") == 1
