# The rekey protocol end to end on a small vehicle (tests/keyagent/vehicle_sim.py).
from vehicle_sim import Sim, config, spent


def test_startup_brings_every_ecu_onto_epoch_1():
    sim = Sim(config(direct=2, gateway=1))
    sim.run(300, traffic_every=0)
    assert sim.epochs() == {0: 1, 1: 1, 2: 1, 3: 1}
    sim.run(200)
    assert sim.app_rejections() == 0
    assert sim.received[0] > 0 and sim.received[3] > 0


def test_rekeys_under_traffic_lose_no_authentic_frame():
    sim = Sim(config(direct=2, gateway=2))
    sim.run(5600)
    assert set(sim.epochs().values()) == {6}
    assert sim.app_rejections() - sum(a.rejected.get("no_key", 0) for a in sim.agents.values()) == 0
    master = sim.agents[0]
    announced = [e[2] for e in master.events if e[1] == "epoch_announced"]
    assert announced == [1, 2, 3, 4, 5, 6] and not hasattr(master.rekey, "latencies")
    assert [e for e in master.events if e[1] == "activated_without"] == []


def test_lost_activate_frames_switch_implicitly():
    sim = Sim(config(direct=2, gateway=1))
    sim.drop = lambda can_id, data, node: can_id == 0x6F0 and node == 2
    sim.run(2500)
    assert set(sim.epochs().values()) == {3}
    assert sim.app_rejections() - sum(a.rejected.get("no_key", 0) for a in sim.agents.values()) == 0


def test_lost_unicast_frames_are_retried():
    sim = Sim(config(direct=2, gateway=1))
    state = {"x": 12345}

    def drop(can_id, data, node):
        # 5% of the rekey unicast frames lost in the first 1.5 s (a seeded LCG).
        if 0x700 <= can_id < 0x780 and sim.t < 1500:
            state["x"] = (state["x"] * 1103515245 + 12345) & 0x7FFFFFFF
            return state["x"] % 20 == 0
        return False

    sim.drop = drop
    sim.run(3200)
    assert set(sim.epochs().values()) == {3}
    assert sim.app_rejections() - sum(a.rejected.get("no_key", 0) for a in sim.agents.values()) == 0


def test_slave_reboot_rejoins_the_active_epoch():
    sim = Sim(config(direct=2, gateway=1))
    sim.run(600)
    sim.boot(1)  # a reset: a new agent, the same flash
    assert sim.agents[1].current is None
    sim.run(300)
    assert sim.epochs()[1] == sim.epochs()[0]
    before = sim.received[1]
    sim.run(200)
    assert sim.received[1] > before


def test_slave_reboot_during_a_rekey():
    sim = Sim(config(direct=2, gateway=1))
    sim.run(1002)  # the second rekey is under way
    sim.boot(2)
    sim.run(1500)
    assert set(sim.epochs().values()) == {sim.epochs()[0]}
    before = dict(sim.received)
    sim.run(100)
    assert sim.received[2] > before[2] and sim.received[0] > before[0]


def test_master_reboot_starts_a_new_epoch():
    sim = Sim(config(direct=1, gateway=1))
    sim.run(600)
    assert sim.epochs()[0] == 1
    sim.boot(0)
    sim.run(600)
    assert set(sim.epochs().values()) == {2}
    assert sim.storages[0].get("epoch") == 2


def test_slave_module_without_key_gets_it_through_she():
    sim = Sim(config(direct=2, gateway=0))
    sim.pool.empty.add(2)
    sim.run(600)
    assert set(sim.epochs().values()) == {1}
    assert any(e[1] == "slave_no_key" for e in sim.agents[0].events)


def test_qkd_alarm_keeps_the_current_key_and_says_so():
    sim = Sim(config(direct=1, gateway=1, timing={"key_lifetime_ms": 3000}))
    sim.run(600)
    sim.pool.alarm = True
    failed_before = sim.send_failed
    sim.run(3000)
    assert set(sim.epochs().values()) == {1}
    kinds = [e[1] for e in sim.agents[0].events]
    assert kinds.count("qkd_alarm") == 1 and kinds.count("key_expired") == 1
    assert sim.send_failed == failed_before  # never unauthenticated, never silent
    sim.pool.alarm = False
    sim.run(600)
    assert set(sim.epochs().values()) == {2}


def test_replayed_joins_cost_no_new_delivery():
    sim = Sim(config(direct=1, gateway=1, timing={"rekey_period_ms": 100000}))
    sim.run(400)
    joins = []

    def record(can_id, data, node):
        if can_id == 0x742 and node == 0:
            joins.append((can_id, bytes(data)))
        return False

    sim.drop = record
    sim.boot(2)  # the gateway slave resets and JOINs
    sim.run(300)
    sim.drop = None
    master = sim.agents[0]
    slave = master.rekey.slaves[2]
    counts = spent(slave)
    sim.boot(2)  # and again: a new boot count, a new delivery
    sim.run(300)
    assert sum(spent(slave).values()) == sum(counts.values()) + 1
    before = spent(slave)
    for can_id, data in joins:  # an old boot's JOIN frames, replayed
        master.on_frame(can_id, data, sim.t)
        sim.run(2)
    sim.run(200)
    assert spent(slave) == before
    assert master.rejected.get("rekey_stale", 0) >= 1
    assert set(sim.epochs().values()) == {sim.epochs()[0]}
