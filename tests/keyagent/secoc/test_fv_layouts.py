# Freshness layouts as data (keyagent.secoc.fv_layout): the engine
# reproduces the hand-computed vectors of tests/vectors/freshness_*.json
# (made independently of it, see tests/host_tools/test_cli_mac_layouts.py),
# and every layout survives missed syncs, reset-counter wrap and resets.
from fwtest import h, raises, vectors
from keyagent.crypto.cmac import Cmac
from keyagent.secoc import engine as secoc
from keyagent.secoc.freshness import MultiCounterFreshness
from keyagent.secoc.fv_layout import NAMED, FreshnessLayout
from keyagent.secoc.fv_sync import SYNC_OK, SyncState
from keyagent.storage import MemoryStorage

FILES = {"jaspar": "freshness_jaspar.json", "flagless": "freshness_flagless.json",
         "flag-first": "freshness_flag_first.json"}
KEY = Cmac(h("000102030405060708090a0b0c0d0e0f"))


def endpoints(name, tx_bits=4, mac_bits=28, payload_len=4, attempts=1, closed=False):
    lay = FreshnessLayout(name).for_tx_bits(tx_bits)
    master, slave = SyncState(lay), SyncState(lay)
    pdu = secoc.PduLayout(0x20, payload_len, lay.fv_bits, tx_bits, mac_bits, 0, payload_len + 4 > 8)
    tx = secoc.SecOCTx(pdu, MultiCounterFreshness(master, lay))
    rx = secoc.SecOCRx(pdu, MultiCounterFreshness(slave, lay, attempts, closed=closed))
    tx.key = rx.key = KEY
    return master, slave, tx, rx


def sync(master, slave):
    pdu = bytearray(8)
    n = master.build(0x6F1, KEY, pdu)
    return slave.check(0x6F1, KEY, pdu, n)


def frame(tx):
    out = bytearray(64)
    n = tx.protect(b"\x01\x02\x03\x04", 4, out)
    return bytes(out[:n]) if n > 0 else n


def test_engine_reproduces_the_independent_vectors():
    for name, path in FILES.items():
        doc = vectors(path)
        for vec in doc["frames"]:
            lay = FreshnessLayout(name).for_tx_bits(vec["tx_fv_bits"])
            st = SyncState(lay)
            st.trip, st.reset, st.valid = vec["trip"], vec["reset"], True
            payload = h(vec["payload"])
            pdu = secoc.PduLayout(vec["data_id"], len(payload), lay.fv_bits, vec["tx_fv_bits"],
                                  vec["mac_bits"], 0, len(payload) > 4)
            fvm = MultiCounterFreshness(st, lay)
            fvm.tx_cycle = (vec["trip"] << lay.reset_bits) | vec["reset"]
            fvm.msg = vec["msg"] - 1
            tx = secoc.SecOCTx(pdu, fvm)
            tx.key = Cmac(h(vec["key"]))
            out = bytearray(64)
            n = tx.protect(payload, len(payload), out)
            assert out[:n].hex() == vec["pdu"], (name, vec)
            rx = secoc.SecOCRx(pdu, MultiCounterFreshness(st, lay))
            rx.key = tx.key
            rx.fvm.last = lay.compose(vec["trip"], vec["reset"], vec["msg"] - 1)
            assert rx.verify(out, n) == secoc.OK and rx.fv == lay.compose(vec["trip"], vec["reset"], vec["msg"])
        for vec in doc["sync"]:
            st = SyncState(FreshnessLayout(name))
            st.trip, st.reset = vec["trip"], vec["reset"]
            out = bytearray(8)
            n = st.build(vec["data_id"], Cmac(h(vec["key"])), out)
            assert out[:n].hex() == vec["pdu"], (name, vec)
            other = SyncState(FreshnessLayout(name))
            assert other.check(vec["data_id"], Cmac(h(vec["key"])), out, n) == SYNC_OK
            assert (other.trip, other.reset) == (vec["trip"], vec["reset"])


def test_bad_layouts_are_refused():
    for text in ("", "fv=trip:16", NAMED["jaspar"].replace("msg:26", "msg:60"),
                 NAMED["jaspar"].replace("fv=trip:16,reset:20", "fv=reset:20,trip:16"),
                 NAMED["jaspar"].replace("wire=msg:2,flag:2", "wire=msg:2,flag:1"),
                 NAMED["jaspar"].replace("mac:28", "mac:40"), NAMED["jaspar"] + ";fv=trip:1",
                 NAMED["jaspar"].replace("msg:26", "msg:x"), NAMED["jaspar"].replace("trip:16,reset", "counter:16,reset")):
        assert raises(ValueError, FreshnessLayout, text), text
    assert raises(ValueError, FreshnessLayout("jaspar").for_tx_bits, 2)  # no room for msg bits


def test_every_layout_survives_missed_syncs_and_rejects_replays():
    for name in FILES:
        master, slave, tx, rx = endpoints(name)
        master.start_trip(MemoryStorage())
        assert sync(master, slave) == SYNC_OK
        sent = []
        for cycle in range(6):
            for i in range(20):  # more than the wire's counter bits: carries
                f = frame(tx)
                sent.append(f)
                assert rx.verify(f, len(f)) == secoc.OK, (name, cycle, i)
            master.next_reset(None)
            if cycle % 2 == 0:  # every other sync message is lost
                sync(master, slave)
        for f in sent[-3:] + sent[:2]:
            assert rx.verify(f, len(f)) != secoc.OK, name


def test_reset_counter_wrap_starts_a_new_trip():
    for name in FILES:
        store = MemoryStorage()
        master, slave, tx, rx = endpoints(name)
        master.start_trip(store)
        master.reset = (1 << master.reset_bits) - 2
        sync(master, slave)
        for step in range(4):
            f = frame(tx)
            assert rx.verify(f, len(f)) == secoc.OK, (name, step)
            master.next_reset(store)
            if step != 1:
                sync(master, slave)
        assert master.trip == 2 and store.get("trip") == 2 and slave.trip == 2


def test_a_rebooted_endpoint_skips_the_cycle_it_joins():
    for name in FILES:
        master, slave, tx, rx = endpoints(name)
        master.start_trip(MemoryStorage())
        sync(master, slave)
        old = [frame(tx) for _ in range(3)]
        assert rx.verify(old[0], len(old[0])) == secoc.OK
        # The receiver reboots: the same key, freshness state lost.
        _, slave2, _, rx2 = endpoints(name, closed=True)
        rx2.key = KEY
        sync(master, slave2)
        for f in old[1:]:
            assert rx2.verify(f, len(f)) != secoc.OK, name  # no replay from before the reboot
        master.next_reset(None)
        sync(master, slave2)
        f = frame(tx)
        assert rx2.verify(f, len(f)) == secoc.OK, name
        # A rebooted sender waits for the next cycle too.
        fvm = MultiCounterFreshness(master, tx.fvm.layout, closed=True)
        assert fvm.next_tx() == -1
        master.next_reset(None)
        assert fvm.next_tx() > 0
