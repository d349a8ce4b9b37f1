# An active attacker on the bus, and faults, against the rekey protocol
# (issue 10, findings 1-5; docs/rekey-protocol.md, "What an attacker on the
# bus can do"), on the small vehicle of tests/keyagent/vehicle_sim.py. The
# attacker holds no key: it forges ISO-TP frames and replays what it heard.
from vehicle_sim import Sim, config, spent
from keyagent.crypto import she
from keyagent.storage import MemoryStorage

RETRY = 50  # retry_ms of vehicle_sim's configuration
MASTER_FF_TO_1 = 0x701


def authentic_rejections(sim):
    return sim.app_rejections() - sum(a.rejected.get("no_key", 0) for a in sim.agents.values())


def she_counters(sim):
    return dict((n, a.rekey.she.counter(she.KEY_1)) for n, a in sim.agents.items() if n)


def installs(agent):
    return len([e for e in agent.events if e[1] == "key_installed"])


def recorder(log, want):
    # A sim.drop hook that records each frame once (as the master's peers
    # hear it) and drops nothing.
    def drop(can_id, data, node):
        if want(can_id, node):
            log.append((can_id, bytes(data)))
        return False
    return drop


def test_forged_first_frames_do_not_hold_the_master_back():
    # Finding 1: one forged FF every 50 ms on each slave's channel to the
    # master (80 frames/s) opened receive channels that blocked the master's
    # sending; epochs were activated with no slave confirmed.
    sim = Sim(config(direct=2, gateway=2))
    master = sim.agents[0]
    forged = b"\x10\x40" + b"\x55" * 6
    injected = 0
    seen = {"fc": 0, "ff": 0}

    def count(can_id, data, node):
        # The master's flow controls to slaves, and the slaves' own first frames.
        if node == can_id - 0x700 and data[0] >> 4 == 3:
            seen["fc"] += 1
        if node == 0 and 0x741 <= can_id <= 0x744 and data[0] >> 4 == 1:
            seen["ff"] += 1
        return False

    sim.drop = count
    for _ in range(3000):
        if sim.t % 50 == 0:
            for node in (1, 2, 3, 4):
                master.on_frame(0x740 + node, forged, sim.t)
                injected += 1
        sim.run(1)
    assert [e for e in master.events if e[1] == "activated_without"] == []
    assert len(set(sim.epochs().values())) == 1 and sim.epochs()[0] == 3
    assert authentic_rejections(sim) == 0
    # Each first frame, forged or not, costs the master one flow control frame at most.
    assert injected == 240 and 0 < seen["fc"] <= injected + seen["ff"]


def test_a_deafened_slave_rejoins_within_two_retry_periods():
    # Finding 2: a slave that missed a rekey stayed on the old epoch until
    # the next one. The master's beacon (ACTIVATE every retry_ms) makes it JOIN.
    sim = Sim(config(direct=2, gateway=1))
    sim.run(900)
    sim.drop = lambda can_id, data, node: node == 1  # slave 1 hears nothing
    sim.run(850)  # the rekey at 1000 ms happens without it
    assert sim.epochs()[1] == 1 and sim.epochs()[0] == 2
    sim.drop = None
    sim.run(2 * RETRY)
    assert sim.epochs()[1] == 2
    before = authentic_rejections(sim)
    sim.run(200)
    assert authentic_rejections(sim) == before


def test_forged_flow_control_cannot_keep_a_slave_behind():
    # Finding 2: a forged FC (overflow, wait, reserved or slow STmin) answering
    # each of the master's first frames to slave 1 kept it on epoch 1.
    sim = Sim(config(direct=2, gateway=1))
    master = sim.agents[0]
    kinds = [b"\x32\x00\x00", b"\x31\x00\x00", b"\x30\x00\xfa", b"\x30\x00\x7f", b"\x30\x01\x00"]
    sent = []

    def abuse(can_id, data, node):
        if can_id == MASTER_FF_TO_1 and node == 1 and data[0] >> 4 == 1:
            fc = kinds[len(sent) % len(kinds)] + b"\xcc" * 5
            sent.append(fc)
            master.on_frame(0x741, fc, sim.t)  # before the slave's own FC
        return False

    sim.drop = abuse
    sim.run(3000)
    assert len(sent) >= 3  # one ANNOUNCE a rekey, each answered by a forgery
    assert set(sim.epochs().values()) == {3}
    assert authentic_rejections(sim) == 0


def test_a_replayed_join_reinstalls_nothing():
    # Finding 3: an old JOIN of the same boot got a fresh DELIVER(active);
    # the slave re-installed its epoch and restarted its freshness counters.
    sim = Sim(config(direct=1, gateway=2))
    joins = []
    sim.drop = recorder(joins, lambda can_id, node: can_id == 0x742 and node == 0)
    sim.run(300)
    sim.drop = None
    sim.run(1300)  # epoch 2
    slave, master = sim.agents[2], sim.agents[0]
    held = installs(slave)
    counters = she_counters(sim)
    deliveries = spent(master.rekey.slaves[2])
    for can_id, data in joins:
        master.on_frame(can_id, data, sim.t)
        sim.run(1)
    sim.run(2 * RETRY)
    assert installs(slave) == held and slave.rejected.get("rekey_stale", 0) >= 1
    assert she_counters(sim) == counters
    assert spent(master.rekey.slaves[2]) == deliveries
    before = authentic_rejections(sim)
    sim.run(300)
    assert authentic_rejections(sim) == before


def test_a_join_of_an_earlier_boot_is_refused_after_a_master_reboot():
    # Finding 3: the master's record of each slave's boot count was lost
    # when it rebooted, so a JOIN of an earlier boot was answered.
    sim = Sim(config(direct=1, gateway=1, timing={"rekey_period_ms": 100000}))
    joins = []
    sim.drop = recorder(joins, lambda can_id, node: can_id == 0x742 and node == 0)
    sim.run(300)
    sim.drop = None
    sim.boot(2)  # a new boot: a higher count
    sim.run(300)
    sim.boot(0)  # the master reboots
    sim.run(500)
    master = sim.agents[0]
    deliveries = spent(master.rekey.slaves[2])
    for can_id, data in joins:
        master.on_frame(can_id, data, sim.t)
        sim.run(1)
    assert master.rejected.get("rekey_stale", 0) >= 1
    assert spent(master.rekey.slaves[2]) == deliveries
    assert len(set(sim.epochs().values())) == 1


def test_a_slave_without_storage_cannot_be_rolled_back():
    # Finding 4: a slave started with no flash state took a replayed
    # DELIVER(2) + ACTIVATE(2) while the master was on epoch 4, and stayed.
    sim = Sim(config(direct=1, gateway=1))
    recorded = []
    sim.drop = recorder(recorded, lambda can_id, node: node == 2 and can_id in (0x702, 0x6F0))
    sim.run(1300)  # epoch 2 reaches slave 2 by DELIVER (pending) and ACTIVATE
    sim.drop = None
    sim.run(2000)
    assert sim.epochs()[0] == 4
    sim.storages[2] = MemoryStorage()  # no flash: a fresh start with nothing persisted
    slave = sim.boot(2)
    # The master cannot reach it while the old frames are replayed to it.
    sim.drop = lambda can_id, data, node: node == 2 and can_id in (0x702, 0x6F0)
    for can_id, data in recorded:
        slave.on_frame(can_id, data, sim.t)
        sim.run(1)
    assert slave.current is None and slave.keys.pending is None
    assert slave.rejected.get("rekey_not_joined", 0) >= 1
    sim.drop = None
    sim.run(2 * RETRY)
    assert sim.epochs()[2] == sim.epochs()[0]


def test_a_key_of_the_wrong_length_costs_nothing():
    # Finding 5: a 24-byte key from the master's module raised out of the
    # agent after the master had persisted epoch + 1; a 0-byte key by ID
    # did the same on a slave.
    sim = Sim(config(direct=1, gateway=1, timing={"rekey_period_ms": 100000}))
    master, pool = sim.agents[0], sim.pool
    new_key = master.module.get_new_key
    bad = [24]

    def short_key(now, bits):
        seq = new_key(now, bits)
        if bad:
            r = master.module.results[-1]
            r.key = r.key[0:bad.pop()]
        return seq

    master.module.get_new_key = short_key
    slave_module = sim.agents[1].module
    by_id = slave_module.get_key_by_id

    def empty_key(now, key_id):
        seq = by_id(now, key_id)
        slave_module.results[-1].key = bytearray(0)
        return seq

    slave_module.get_key_by_id = empty_key
    sim.run(400)
    assert master.rejected.get("qkd_bad_key") == 1 and sim.agents[1].rejected.get("qkd_bad_key") >= 1
    assert set(sim.epochs().values()) == {1} and sim.storages[0].get("epoch") == 1
    assert pool.count == 2  # the bad key, then one good one


def test_replayed_rekey_messages_cost_no_she_counter():
    # Every rekey frame of a run replayed to the slaves: refused with a
    # counted reason, no SHE counter spent, no epoch moved.
    sim = Sim(config(direct=1, gateway=1))
    log = []
    sim.drop = recorder(log, lambda can_id, node: (can_id == 0x6F0 and node == 1) or can_id == 0x700 + node)
    sim.run(2500)
    sim.drop = None
    epochs, counters = sim.epochs(), she_counters(sim)
    stale = dict((n, a.rejected.get("rekey_stale", 0)) for n, a in sim.agents.items())
    for can_id, data in log:
        for node in (1, 2):
            if can_id == 0x6F0 or can_id == 0x700 + node:
                sim.agents[node].on_frame(can_id, data, sim.t)
    sim.run(10)
    assert sim.epochs() == epochs and she_counters(sim) == counters
    for node in (1, 2):
        assert sim.agents[node].rejected.get("rekey_stale", 0) > stale[node]


def classic_isotp(msg):
    # A message of 8 bytes or more as classic ISO-TP frames: FF, then CFs.
    frames = [bytes((0x10 | len(msg) >> 8, len(msg) & 0xFF)) + msg[0:6]]
    for i, at in enumerate(range(6, len(msg), 7)):
        frames.append(bytes((0x20 | (i + 1) & 15,)) + msg[at:at + 7])
    frames[-1] += b"\xcc" * (8 - len(frames[-1]))
    return frames


def last_message(frames):
    # The last whole message of a channel's recorded classic frames.
    frames = frames[max(i for i, f in enumerate(frames) if f[0] >> 4 == 1):]
    size = (frames[0][0] & 15) << 8 | frames[0][1]
    return (frames[0][2:] + b"".join(f[1:] for f in frames[1:]))[0:size]


def test_a_forged_or_borrowed_delivered_proves_nothing():
    # DELIVERED carries M5 only (the master rebuilds M4): another slave's M5
    # for this epoch, this slave's M5 of the last epoch relabelled, or a
    # random one must not make the master count a slave that never loaded
    # the key as holding it.
    sim = Sim(config(direct=1, gateway=2))
    heard = []
    sim.drop = recorder(heard, lambda can_id, node: can_id in (0x742, 0x743) and node == 0)
    sim.run(1900)
    assert set(sim.epochs().values()) == {2}
    old_m5 = last_message([d for c, d in heard if c == 0x742])[5:21]
    master = sim.agents[0]
    heard.clear()

    def deafen_2(can_id, data, node):
        if can_id == 0x743 and node == 0:
            heard.append((can_id, bytes(data)))
        return node == 2 or can_id == 0x742

    sim.drop = deafen_2
    sim.run(150)  # the rekey to epoch 3: slave 3 answers, slave 2 hears nothing
    assert master.rekey.epoch == 3 and master.rekey.slaves[3].holds == 3
    borrowed = last_message([d for c, d in heard])
    assert borrowed[0:5] == b"\x05\x00\x00\x00\x03"
    bad_mac = master.rejected.get("rekey_bad_mac", 0)
    forgeries = (borrowed, borrowed[0:5] + old_m5, borrowed[0:5] + bytes(16))
    for msg in forgeries:
        frames = classic_isotp(msg)
        master.on_frame(0x742, frames[0], sim.t)
        sim.run(1)  # the master's flow control
        for data in frames[1:]:
            master.on_frame(0x742, data, sim.t)
        sim.run(1)
    assert master.rejected.get("rekey_bad_mac", 0) == bad_mac + len(forgeries)
    assert master.rekey.slaves[2].holds == 2
    sim.run(400)  # past the activate deadline
    assert [e[2] for e in master.events if e[1] == "activated_without"] == [[2]]
