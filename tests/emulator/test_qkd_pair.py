# The emulated module pair: the same keys on both sides under one ID, each
# handed out once per side, a pool that fills at the modelled rate up to its
# maximum, the alarm, fault injection, and the ETSI 004 status codes.
import threading
from dataclasses import replace

import pytest

from emulator import qkd_errors as err
from emulator.qkd_link import LinkParams, evaluate
from emulator.qkd_pair import ModulePair

LINK = LinkParams(km=25.0)


def rate_bps():
    return evaluate(LINK).secret_key_rate_bps


def full_pair(**kw):
    kw.setdefault("seed", 1)
    pair = ModulePair(LINK, **kw)
    pair.fill()
    return pair


def test_both_sides_get_the_same_key_once():
    pair = full_pair()
    key_id, key = pair.take_new_key("A", 256)
    assert len(key_id) == 16 and len(key) == 32
    assert pair.take_key_by_id("B", bytearray(key_id)) == key
    with pytest.raises(err.KeyNotFound) as e:
        pair.take_key_by_id("B", key_id)
    assert e.value.status == 2
    # The master already has it: not handed to A a second time either.
    with pytest.raises(err.KeyNotFound):
        pair.take_key_by_id("A", key_id)


def test_master_cannot_fetch_its_own_key_by_id_and_b_can_be_master():
    pair = full_pair()
    key_id, key = pair.take_new_key("B", 128)
    with pytest.raises(err.KeyNotFound):
        pair.take_key_by_id("B", key_id)
    assert pair.take_key_by_id("A", key_id) == key


def test_keys_differ_and_ids_are_uuid4_shaped():
    pair = full_pair()
    keys = pair.take_new_keys("A", 50, 256)
    assert len({k for _, k in keys}) == 50 and len({i for i, _ in keys}) == 50
    for key_id, _ in keys:
        assert key_id[6] >> 4 == 4 and key_id[8] >> 6 == 2


def test_seed_makes_runs_reproducible():
    a = full_pair(seed=7).take_new_keys("A", 3)
    b = full_pair(seed=7).take_new_keys("A", 3)
    c = full_pair(seed=8).take_new_keys("A", 3)
    assert a == b and a != c


def test_by_id_is_all_or_nothing():
    pair = full_pair()
    (id1, k1), (id2, k2) = pair.take_new_keys("A", 2)
    with pytest.raises(err.KeyNotFound):
        pair.take_keys_by_id("B", [id1, b"\x00" * 16])
    with pytest.raises(err.KeyNotFound):
        pair.take_keys_by_id("B", [id1, id1])
    assert pair.take_keys_by_id("B", [id2, id1]) == [k2, k1]


def test_pool_fills_at_the_modelled_rate_up_to_the_maximum():
    pair = ModulePair(LINK, max_key_count=100, key_size=256, seed=1)
    assert pair.status()["stored_key_count"] == 0
    with pytest.raises(err.InsufficientKey) as e:
        pair.take_new_key("A")
    assert e.value.status == 2
    # Exactly 10 keys' worth of bits after 10 * 256 / R seconds.
    pair.advance(10 * 256 / rate_bps() * 1.0001)
    assert pair.status()["stored_key_count"] == 10
    assert len(pair.take_new_keys("A", 10)) == 10
    with pytest.raises(err.InsufficientKey):
        pair.take_new_key("A")
    pair.advance(pair.now + 3600.0)
    assert pair.status()["stored_key_count"] == 100
    pair.advance(pair.now + 3600.0)
    assert pair.status()["stored_key_count"] == 100
    with pytest.raises(ValueError):
        pair.advance(0.0)


def test_key_size_is_taken_from_the_pool_in_bits():
    pair = ModulePair(LINK, max_key_count=4, key_size=256, seed=1)
    pair.fill()
    pair.take_new_key("A", 512)
    assert pair.status()["stored_key_count"] == 2
    with pytest.raises(err.InsufficientKey):
        pair.take_new_keys("A", 3, 256)
    assert pair.status()["stored_key_count"] == 2  # nothing taken


@pytest.mark.parametrize("size", [0, 7, 100, 8200, 256.0, 56])
def test_bad_sizes_are_qos_not_met(size):
    pair = full_pair()
    with pytest.raises(err.KeySizeNotSupported) as e:
        pair.take_new_key("A", size)
    assert e.value.status == 7


def test_count_limits_are_qos_not_met():
    pair = full_pair(max_keys_per_request=4)
    for n in (0, 5):
        with pytest.raises(err.QosNotMet):
            pair.take_new_keys("A", n)


def test_real_time_clock_fills_the_pool():
    now = [100.0]
    pair = ModulePair(LINK, seed=1, clock=lambda: now[0])
    now[0] += 5 * 256 / rate_bps() * 1.0001
    assert pair.status()["stored_key_count"] == 5


def test_eavesdropper_raises_the_qber_by_a_quarter_and_the_alarm_stops_keys():
    pair = full_pair()
    base = pair.status()["qber"]
    key_id, _ = pair.take_new_key("A")
    pair.set_eavesdrop(0.1)
    st = pair.status()
    assert st["qber"] == pytest.approx(base + 0.025)
    assert not st["alarm"] and st["link_state"] == "up"
    pair.take_new_key("A")  # 5.8 % QBER: still keys, at a lower rate
    assert 0 < st["secret_key_rate_bps"] < rate_bps()
    pair.set_eavesdrop(0.2)  # 8.3 %: privacy amplification eats all the key
    st = pair.status()
    assert st["qber"] == pytest.approx(base + 0.05)
    assert not st["alarm"] and st["link_state"] == "no_key_rate"
    pair.set_eavesdrop(0.5)
    st = pair.status()
    assert st["alarm"] and st["link_state"] == "alarm" and st["secret_key_rate_bps"] == 0
    assert st["qber"] == pytest.approx(base + 0.125)
    for call in (lambda: pair.take_new_key("A"), lambda: pair.take_key_by_id("B", key_id)):
        with pytest.raises(err.LinkAlarm) as e:
            call()
        assert e.value.status == 4 and isinstance(e.value, err.NoQkdConnection)
    # No filling while in alarm; the eavesdropper goes, keys flow again.
    before = pair.status()["stored_key_count"]
    pair.set_eavesdrop(0.0)
    assert pair.status()["link_state"] == "up"
    assert pair.status()["stored_key_count"] == before
    assert len(pair.take_key_by_id("B", key_id)) == 32


def test_no_filling_during_alarm():
    pair = ModulePair(LINK, seed=1)
    pair.set_eavesdrop(1.0)
    pair.advance(1000.0)
    assert pair.status()["stored_key_count"] == 0


def test_unplugged_module_and_disconnected_peer():
    pair = full_pair()
    key_id, key = pair.take_new_key("A")
    pair.set_unplugged("B")
    assert pair.status("B")["link_state"] == "unplugged"
    assert pair.status("A")["link_state"] == "peer_disconnected"
    with pytest.raises(err.ModuleUnplugged) as e:
        pair.take_key_by_id("B", key_id)
    assert e.value.status == 4
    with pytest.raises(err.PeerNotConnected) as e:
        pair.take_new_key("A")
    assert e.value.status == 3
    pair.set_unplugged("B", False)
    pair.set_peer_disconnected()
    with pytest.raises(err.PeerNotConnected):
        pair.take_key_by_id("B", key_id)
    start = pair.status()["stored_key_count"]
    pair.advance(pair.now + 10.0)
    assert pair.status()["stored_key_count"] == start
    pair.set_peer_disconnected(False)
    assert pair.take_key_by_id("B", key_id) == key


def test_uncollected_keys_expire_oldest_first():
    pair = full_pair(max_key_count=3)
    ids = [pair.take_new_key("A", 64)[0] for _ in range(4)]
    pair.advance(pair.now + 3600.0)
    assert pair.status()["pending_key_count"] == 3
    with pytest.raises(err.KeyNotFound):
        pair.take_key_by_id("B", ids[0])
    assert pair.take_key_by_id("B", ids[3])
    assert pair.counters["keys_expired"] == 1


def test_no_key_in_repr_or_status():
    pair = full_pair()
    _, key = pair.take_new_key("A")
    assert key.hex() not in repr(pair) and key.hex() not in str(pair.status())
    assert repr(key)[2:20] not in repr(pair)


def test_long_fibre_has_no_key_rate_and_a_longer_one_alarms():
    # Past the cut-off (about 167 km for LinkParams()) the QBER is still
    # below 11 % but no key survives; further on, dark counts push the
    # QBER over the abort threshold.
    pair = ModulePair(replace(LINK, km=170.0), seed=1)
    assert pair.status()["link_state"] == "no_key_rate"
    pair.set_link(replace(LINK, km=200.0))
    assert pair.status()["link_state"] == "alarm"


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError):
        ModulePair(key_size=100)
    with pytest.raises(ValueError):
        ModulePair(LinkParams(km=-1))
    pair = full_pair()
    with pytest.raises(ValueError):
        pair.take_new_key("C")
    with pytest.raises(ValueError):
        pair.set_eavesdrop(1.5)


def test_threads_share_the_pool_without_losing_or_doubling_keys():
    pair = full_pair(max_key_count=400)
    got = []

    def worker():
        for _ in range(50):
            got.append(pair.take_new_key("A", 64))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({i for i, _ in got}) == 200
    for key_id, key in got:
        assert pair.take_key_by_id("B", key_id) == key
    # 400 keys of 256 bits = 1600 of 64 bits; 200 taken.
    assert pair.status()["stored_key_count"] == (400 * 256 - 200 * 64) // 256


def test_status_codes_follow_etsi_004():
    assert [err.BY_STATUS[c].status for c in range(2, 9)] == list(range(2, 9))
    assert err.SUCCESS == 0


def test_one_master_module_serves_several_slave_modules():
    pair = ModulePair(seed=3, sides=("A", "S1", "S2"))
    pair.fill()
    key_id, key = pair.take_new_key("A")
    assert pair.take_key_by_id("S1", key_id) == key
    assert pair.take_key_by_id("S2", key_id) == key
    with pytest.raises(err.KeyNotFound):
        pair.take_key_by_id("S1", key_id)
    pair.set_unplugged("S1")
    pair.take_new_key("A")  # S2 can still take it
    pair.set_unplugged("S2")
    with pytest.raises(err.PeerNotConnected):
        pair.take_new_key("A")
    with pytest.raises(ValueError):
        pair.take_new_key("B")


def test_keys_are_bound_to_their_consumers():
    pair = full_pair(seed=4)
    uart_id, uart_key = pair.take_new_key("A")
    [(rest_id, rest_key)] = pair.take_new_keys("A", 1, None, ("rest", "m", "s"))
    for key_id, wrong in ((uart_id, ("rest", "m", "s")), (rest_id, None), (rest_id, ("rest", "x", "s"))):
        with pytest.raises(err.KeyNotFound):
            pair.take_key_by_id("B", key_id, wrong)
    assert pair.take_key_by_id("B", uart_id) == uart_key
    assert pair.take_keys_by_id("B", [rest_id], ("rest", "m", "s")) == [rest_key]
