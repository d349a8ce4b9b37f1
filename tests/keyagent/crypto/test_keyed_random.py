# The random source of a build without os.urandom (keyagent.crypto.keyed_random):
# JOIN nonces that never repeat across boots while storage keeps the boot
# count, and that nobody without the ECU's secret can compute.
from fwtest import h
from keyagent.crypto import kdf
from keyagent.crypto.keyed_random import KeyedRandom
from keyagent.agent import KeyAgent
from keyagent.rekey import messages as msgs
from keyagent.storage import MemoryStorage
from vehicle_sim import config

SECRET = h("2b7e151628aed2a6abf7158809cf4f3c")


def test_output_is_the_kdf_over_boot_and_call_count():
    # Independent of the class: SP 800-108 (checked against NIST's vectors
    # in test_kdf) with the labels the module documents.
    store = MemoryStorage({"random_boot": 6})
    rand = KeyedRandom(SECRET, store)
    key = kdf.kdf_counter(SECRET, kdf.fixed_input(b"qkd-secoc random key", b"", 128), 16)
    for call in (1, 2):
        ctx = bytes((0, 0, 0, 7, 0, 0, 0, call))
        assert rand(8) == kdf.kdf_counter(key, kdf.fixed_input(b"qkd-secoc random", ctx, 64), 8)
    assert store.get("random_boot") == 7


def test_no_repeat_across_boots_and_none_without_the_secret():
    store = MemoryStorage()
    seen = set()
    for boot in range(5):
        rand = KeyedRandom(SECRET, store)
        for _ in range(20):
            seen.add(rand(8))
    assert len(seen) == 100 and store.get("random_boot") == 5
    # Another ECU's secret, same boot count: other bytes.
    other = KeyedRandom(bytes(16), MemoryStorage({"random_boot": 4}))
    assert other(8) not in seen
    # What it cannot help: storage that forgets the boot count repeats.
    assert KeyedRandom(SECRET, MemoryStorage())(8) == KeyedRandom(SECRET, MemoryStorage())(8)


def test_a_slave_without_an_rng_joins_with_a_new_nonce_at_every_boot():
    # A rebooting slave whose build has no os.urandom (rand given as the
    # agent would pick it): a recorded answer to an earlier JOIN never
    # echoes the nonce of a later boot.
    cfg = config(direct=0, gateway=1)[1]
    store = MemoryStorage()
    nonces = []
    for boot in range(4):
        agent = KeyAgent(cfg, store, None, KeyedRandom(bytes.fromhex(cfg["auth_key"]), store))
        agent.start(0)
        agent.poll(0)
        joins = [d for _, d, _ in agent.pop_frames()]
        assert joins, "the slave sent no JOIN"
        nonces.append(agent.rekey.nonce)
        assert len(agent.rekey.nonce) == msgs.NONCE_LEN
    assert len(set(nonces)) == 4


def test_the_agent_picks_it_when_the_build_has_no_urandom():
    import os

    saved = getattr(os, "urandom", None)
    try:
        del os.urandom
    except (AttributeError, TypeError):
        return  # MicroPython's os is read-only; CPython runs this test
    try:
        cfg = config(direct=0, gateway=1)
        slave = KeyAgent(cfg[1], MemoryStorage(), None)
        assert isinstance(slave.rand, KeyedRandom) and len(slave.rand(8)) == 8
        master = KeyAgent(cfg[0], MemoryStorage(), None)
        assert not isinstance(master.rand, KeyedRandom) and len(master.rand(8)) == 8
    finally:
        os.urandom = saved
