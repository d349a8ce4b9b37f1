# Multi-counter freshness in the key agent (keyagent.secoc.multi_counter):
# every PDU "freshness": "multi", the master sending the authenticated sync
# message; rekeys, resets of any ECU, lost syncs and replays on the small
# vehicle of tests/keyagent/vehicle_sim.py.
from vehicle_sim import Sim, config
from keyagent.secoc.multi_counter import DEFAULT_SYNC_ID

PERIOD = 50


def multi_config(layout="jaspar", direct=2, gateway=1):
    configs = config(direct, gateway)
    for c in configs.values():
        c["freshness"] = {"layout": layout, "sync_period_ms": PERIOD}
        for cluster in c["clusters"]:
            for spec in cluster["pdus"]:
                spec["freshness"] = "multi"
                spec["profile"] = 3
    return configs


def rejected(sim, reasons=None):
    total = 0
    for a in sim.agents.values():
        for reason, count in a.rejected.items():
            if reasons is None and not reason.startswith(("rekey", "she")) or reasons and reason in reasons:
                total += count
    return total


def test_multi_counter_traffic_through_rekeys():
    for layout in ("jaspar", "flagless", "flag-first"):
        sim = Sim(multi_config(layout))
        sim.run(2500)
        assert set(sim.epochs().values()) == {3}, layout
        assert sim.agents[0].multi.state.trip == 1 and sim.agents[1].multi.state.reset > 30
        # Only the start-up window (no key, no sync yet) costs frames.
        assert rejected(sim) == rejected(sim, ("no_key", "freshness_unavailable")), (layout, [a.rejected for a in sim.agents.values()])
        assert sim.received[1] > 400 and sim.send_failed < 60, (layout, sim.received, sim.send_failed)


def test_lost_syncs_within_the_bound_cost_nothing():
    sim = Sim(multi_config("flagless"))
    sim.run(600)
    before = rejected(sim)
    state = {"n": 0}

    def drop(can_id, data, node):
        if can_id == DEFAULT_SYNC_ID and node == 2:
            state["n"] += 1
            return state["n"] % 2 == 0  # every other sync lost at node 2
        return False

    sim.drop = drop
    sim.run(1000)
    assert state["n"] > 10 and rejected(sim) == before


def test_resets_reopen_no_old_value():
    sim = Sim(multi_config())
    old = []  # the last 40 application frames heard, kept small for a board's heap

    def record(can_id, data, node):
        if 0x100 <= can_id < 0x110:
            old.append((can_id, bytes(data)))
            del old[:-40]
        return False

    sim.drop = record
    sim.run(700)
    sim.drop = None
    # A slave and then the master (the FV master: a new trip) reboot.
    sim.boot(2)
    sim.run(400)
    assert sim.agents[2].current is not None and sim.agents[2].multi.state.valid
    sim.boot(0)
    sim.run(800)
    assert sim.agents[0].multi.state.trip == 2 and sim.agents[1].multi.state.trip == 2
    assert sim.storages[1].get("trip") == 2  # a receiver's floor for the trip counter
    base = sim.received[1]
    sim.run(300)
    assert sim.received[1] > base  # traffic flows again
    # Replays of frames from before the resets are all refused.
    verdicts = []
    for a in sim.agents.values():
        for can_id, data in old[-40:]:
            verdicts.append(a.on_frame(can_id, data, sim.t))
    assert 0 not in verdicts and len([v for v in verdicts if v is not None]) >= 40
    assert rejected(sim) - rejected(sim, ("no_key", "freshness_unavailable")) >= 40


def test_forged_and_replayed_syncs_are_refused():
    sim = Sim(multi_config())
    syncs = []
    sim.drop = lambda can_id, data, node: can_id == DEFAULT_SYNC_ID and syncs.append(bytes(data)) and False
    sim.run(500)
    a = sim.agents[1]
    state = (a.multi.state.trip, a.multi.state.reset)
    a.on_frame(DEFAULT_SYNC_ID, syncs[0], sim.t)
    forged = bytearray(syncs[-1])
    forged[4] ^= 0x80  # the reset counter moved on, MAC unchanged
    a.on_frame(DEFAULT_SYNC_ID, bytes(forged), sim.t)
    a.on_frame(DEFAULT_SYNC_ID, syncs[-1][:7], sim.t)
    assert (a.multi.state.trip, a.multi.state.reset) == state
    assert a.rejected.get("sync_stale") == 1 and a.rejected.get("sync_mac_mismatch") == 1
    assert a.rejected.get("sync_malformed") == 1


def test_a_slave_can_be_the_freshness_master():
    configs = multi_config()
    for c in configs.values():
        c["freshness"]["master"] = 2
    sim = Sim(configs)
    sim.run(1500)
    fv_master = sim.agents[2].multi
    assert fv_master.is_master and not sim.agents[0].multi.is_master
    assert sim.storages[2].get("trip") == 1 and fv_master.state.reset > 15
    assert (sim.agents[0].multi.state.trip, sim.agents[0].multi.state.reset) == \
        (fv_master.state.trip, fv_master.state.reset)
    assert rejected(sim) == rejected(sim, ("no_key", "freshness_unavailable"))
    assert sim.received[0] > 300
