# Freshness Value Manager: multi-counter (JASPAR) scheme, the sync message,
# and the trip counter surviving reboots through the storage seam.
from fwtest import h
from keyagent.secoc import engine as secoc
from keyagent.crypto.cmac import Cmac
from keyagent.secoc.freshness import CounterFreshness, MultiCounterFreshness
from keyagent.secoc.fv_sync import SYNC_MAC_MISMATCH, SYNC_MALFORMED, SYNC_OK, SYNC_STALE, SyncState
from keyagent.secoc.engine import SecOCRx, SecOCTx, layout_for_profile
from keyagent.storage import FileStorage, MemoryStorage

KEY = Cmac(h("000102030405060708090a0b0c0d0e0f"))
SYNC_ID = 0x0FFF


def jaspar_pair(master_sync, slave_sync, attempts=1):
    lay = layout_for_profile(3, 0x20, 4)
    tx = SecOCTx(lay, MultiCounterFreshness(master_sync, master_sync.layout))
    rx = SecOCRx(lay, MultiCounterFreshness(slave_sync, slave_sync.layout, attempts))
    tx.key = rx.key = KEY
    return tx, rx


def send_sync(master, slave, storage=None):
    pdu = bytearray(16)
    n = master.build(SYNC_ID, KEY, pdu)
    return slave.check(SYNC_ID, KEY, pdu, n, storage)


def frame(tx):
    out = bytearray(8)
    n = tx.protect(b"\x01\x02\x03\x04", 4, out)
    assert n == 8, n
    return out


def test_trip_counter_increments_per_start_and_persists(tmp="/tmp/qkd_secoc_fv_test.json"):
    try:
        import os

        os.remove(tmp)
    except OSError:
        pass
    s = SyncState()
    s.start_trip(FileStorage(tmp))
    assert s.trip == 1
    s2 = SyncState()  # a reboot: a new object reading the same file
    s2.start_trip(FileStorage(tmp))
    assert s2.trip == 2 and s2.reset == 0
    assert FileStorage(tmp).get("trip") == 2


def test_corrupt_storage_file_is_treated_as_empty(tmp="/tmp/qkd_secoc_fv_corrupt.json"):
    with open(tmp, "w") as f:
        f.write("{not json")
    assert FileStorage(tmp).get("trip", 0) == 0


def test_sync_message_roundtrip_and_rejections():
    master = SyncState()
    master.start_trip(MemoryStorage({"trip": 41}))
    master.next_reset(None)
    slave = SyncState()
    pdu = bytearray(16)
    n = master.build(SYNC_ID, KEY, pdu)
    assert n == 8
    assert slave.check(SYNC_ID, KEY, pdu, n) == SYNC_OK
    assert (slave.trip, slave.reset) == (42, 1)
    assert slave.check(SYNC_ID, KEY, pdu, n) == SYNC_STALE  # replayed
    assert slave.check(SYNC_ID, KEY, pdu, n - 1) == SYNC_MALFORMED
    master.next_reset(None)
    n = master.build(SYNC_ID, KEY, pdu)
    pdu[2] ^= 0x10
    assert slave.check(SYNC_ID, KEY, pdu, n) == SYNC_MAC_MISMATCH
    assert slave.reset == 1


def test_slave_refuses_sync_from_an_older_trip_after_reboot():
    master = SyncState()
    store = MemoryStorage()
    master.start_trip(MemoryStorage({"trip": 6}))
    old = bytearray(16)
    n = master.build(SYNC_ID, KEY, old)
    slave = SyncState()
    slave.check(SYNC_ID, KEY, old, n, store)
    master.start_trip(MemoryStorage({"trip": 7}))
    new = bytearray(16)
    master.build(SYNC_ID, KEY, new)
    assert slave.check(SYNC_ID, KEY, new, n, store) == SYNC_OK
    rebooted = SyncState()
    assert rebooted.check(SYNC_ID, KEY, old, n, store) == SYNC_STALE


def test_multi_counter_frames_verify_across_reset_cycles():
    master, slave = SyncState(), SyncState()
    master.start_trip(MemoryStorage())
    tx, rx = jaspar_pair(master, slave)
    f = frame(tx)
    assert rx.verify(f, 8) == secoc.FRESHNESS_UNAVAILABLE
    assert send_sync(master, slave) == SYNC_OK
    for cycle in range(3):
        for i in range(10):
            f = frame(tx)
            assert rx.verify(f, 8) == secoc.OK, (cycle, i)
        master.next_reset(None)
        if cycle != 1:  # cycle 1's sync message is lost: the reset flag carries it
            send_sync(master, slave)
    assert rx.fv >> 28 == (1 << 20 | 2)  # trip 1, reset 2 (the slave lagging one sync)


def test_multi_counter_replay_and_old_cycle_rejected():
    master, slave = SyncState(), SyncState()
    master.start_trip(MemoryStorage())
    tx, rx = jaspar_pair(master, slave)
    send_sync(master, slave)
    first = frame(tx)
    assert rx.verify(first, 8) == secoc.OK
    second = frame(tx)
    assert rx.verify(second, 8) == secoc.OK
    assert rx.verify(second, 8) == secoc.STALE_FRESHNESS
    master.next_reset(None)
    send_sync(master, slave)
    assert rx.verify(first, 8) != secoc.OK
    f = frame(tx)
    assert rx.verify(f, 8) == secoc.OK


def test_transmitter_waits_for_sync():
    tx, _ = jaspar_pair(SyncState(), SyncState())
    assert tx.protect(b"\x00" * 4, 4, bytearray(8)) == -secoc.FRESHNESS_UNAVAILABLE


def test_counter_candidates_follow_the_spec_rule():
    fvm = CounterFreshness(16, 4, 2)
    fvm.accept(0x0125)
    assert fvm.candidate(0x6, 0) == 0x0126  # greater low bits: same high bits
    assert fvm.candidate(0x5, 0) == 0x0135  # equal: carry one
    assert fvm.candidate(0x1, 1) == 0x0141  # a further attempt carries another
    assert fvm.stale(0x5, 0) == 0x0125
    assert fvm.stale(0x6, 0) == 0x0116
