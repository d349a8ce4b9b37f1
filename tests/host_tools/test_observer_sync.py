# The observer on multi-counter PDUs (docs/freshness.md): the FV master's
# sync message is checked as a receiving ECU checks it, and feeds the
# multi-counter receivers (frames from tests/helpers/multi_counter_bus.py,
# keyagent's own FV master and senders); an attacker forges, replays and
# truncates sync messages and replays frames.
import copy

import pytest

import secoc_trace_builder as B
from host_tools.observer_inputs import Keys, parse_config
from host_tools.secoc_observer import Observer
from keyagent.crypto.cmac import Cmac
from keyagent.rekey import messages as R
from multi_counter_bus import CONFIG, K1, SYNC_ID, Bus, multi_config


def test_forged_and_replayed_sync_messages_are_rejected_and_change_nothing():
    obs = Observer(parse_config(CONFIG), Keys(epoch_keys={1: K1}))
    bus = Bus(obs)
    # Started mid-run: no sync seen yet, as a rebooted receiver says.
    assert bus.see(bus.frame("BrakePedal")) == "freshness_unavailable"
    s0 = bus.sync(next_reset=False)  # trip 4, reset 0
    assert bus.see(s0) == "ok"
    assert [bus.see(bus.frame(n)) for n in ["BrakePedal", "SteeringAngle"] * 6] == ["ok"] * 12
    # Forged: a later reset counter with s0's MAC; a sync under a key of no epoch.
    can_id, data = s0
    forged_reset = (can_id, data[:2] + bytes((data[2], data[3], data[4] | 0x70)) + data[5:])
    wrong_key = Bus(obs, k_epoch=bytes(16)).sync()
    assert [bus.see(forged_reset), bus.see(wrong_key)] == ["sync_mac_mismatch"] * 2
    assert bus.see(s0) == "sync_stale"  # replayed
    assert bus.see((SYNC_ID, data[:7])) == "sync_malformed"
    st = obs.sync.state
    assert (st.trip, st.reset) == (4, 0)
    # Nothing changed: the frames of the genuine cycle still verify (under
    # reset 7 they would be out of reach), the next genuine sync is taken.
    assert [bus.see(bus.frame("BrakePedal")) for _ in range(3)] == ["ok"] * 3
    assert bus.see(bus.sync()) == "ok" and (st.trip, st.reset) == (4, 1)
    last = bus.frame("BrakePedal")
    assert [bus.see(last), bus.see(last)] == ["ok", "stale_freshness"]
    assert [bus.see(bus.frame("SteeringAngle")) for _ in range(2)] == ["ok"] * 2
    row = obs.messages[(SYNC_ID, False)]
    assert row.name == "FvSync" and row.epoch == 1 and row.signals == {"trip": 4, "reset": 1}
    assert row.verdicts == {"ok": 2, "sync_mac_mismatch": 2, "sync_stale": 1, "sync_malformed": 1}
    assert obs.messages[(0xB0, False)].verdicts == {"freshness_unavailable": 1, "ok": 10, "stale_freshness": 1}
    assert obs.table().splitlines()[3] == (
        "6F1      FvSync                 6     25.0     1      2      2      1      1  ok                 trip=4 reset=1")
    assert [(e.kind, e.epoch, e.detail) for e in obs.events] == [("fv_trip", 1, "trip 4, reset 0, first sync seen")]
    assert K1.hex() not in obs.table() + repr(obs.report())


def test_sync_needs_a_key_and_one_under_the_pending_key_switches():
    # No key: the sync cannot be checked, the frames have no counters.
    obs = Observer(parse_config(CONFIG), Keys())
    bus = Bus(obs)
    assert [bus.see(bus.sync(False)), bus.see(bus.frame("BrakePedal"))] == ["no_key", "no_key"]
    # ANNOUNCE of epoch 1 (its QKD key in the key file): pending, and every
    # ACTIVATE lost. The FV master sends under its current key, so a sync
    # under the pending one is the switch.
    obs = Observer(parse_config(CONFIG), Keys({B.Q1_ID: B.Q1}))
    bus = Bus(obs)
    for frame in B.isotp_frames(0x701, 0x741, R.announce(Cmac(B.AUTH[1]), 1, 1, B.Q1_ID, R.NO_NONCE)):
        bus.see(frame)
    assert (obs.epochs.alt, obs.epochs.alt_role, obs.epochs.current) == (1, "pending", None)
    assert bus.see(bus.sync(False)) == "ok"
    assert obs.epochs.current == 1
    assert [(e.kind, e.detail) for e in obs.events[-2:]] == [
        ("switch", "sync"), ("fv_trip", "trip 4, reset 0, first sync seen")]
    assert [bus.see(bus.frame("SteeringAngle")) for _ in range(3)] == ["ok"] * 3


@pytest.mark.parametrize("layout", ["flagless", "flag-first",
                                    "fv=trip:12,pad:4,reset:16,msg:30,flag:2;wire=flag:2,msg:2;"
                                    "sync=pad:4,reset,trip,mac:32;sync_auth=reset,data_id,trip"])
def test_the_layout_comes_from_the_configuration(layout):
    # Other makers' layouts (docs/freshness.md): the sync's fields, its MAC
    # input and the wire bits as the node configuration says.
    config = multi_config(layout)
    obs = Observer(parse_config(config), Keys(epoch_keys={1: K1}))
    bus = Bus(obs, config=config)
    frames = bus.genuine(cycles=3, per_cycle=20)
    assert [obs.on_frame(*f) for f in frames] == ["ok"] * len(frames)
    assert obs.sync.state.layout.text == bus.master.layout.text
    # the same frames judged by a jaspar observer: its syncs do not parse the same way
    obs = Observer(parse_config(CONFIG), Keys(epoch_keys={1: K1}))
    assert [obs.on_frame(*f) for f in frames if f[1] == SYNC_ID] != ["ok"] * 3


def test_freshness_mistakes_are_one_line_errors():
    from host_tools.errors import UserError

    for freshness, words in (({"sync_can_id": 0xB0}, "freshness: sync_can_id 0xB0 is a PDU's or key"),
                             ({"sync_can_id": 0x6F0}, "freshness: sync_can_id 0x6F0 is a PDU's or key"),
                             ({"sync_can_id": 0x741}, "freshness: sync_can_id 0x741 is a PDU's or key"),
                             ({"sync_can_id": "0x6f1"}, "freshness: sync_can_id must be 0..2047"),
                             ({"sync_data_id": 1 << 16}, "freshness: sync_data_id must be 0..65535"),
                             ({"missed_syncs": -1}, "freshness: missed_syncs must be 0..255"),
                             ({"layout": "fv=trip:16"}, "freshness: freshness layout needs fv="),
                             ("jaspar", '"freshness" must be an object')):
        doc = copy.deepcopy(CONFIG)
        doc["freshness"] = freshness
        with pytest.raises(UserError) as e:
            parse_config(doc, "gw.json")
        assert str(e.value).startswith("gw.json: " + words), e.value
