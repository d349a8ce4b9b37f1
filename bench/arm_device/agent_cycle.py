# Runs on the emulated Cortex-M4F with the NUCLEO_F446RE's heap (bench/arm_agent.py).
# Importing bench/mpy_agent_heap.py runs its benchmark first, on a fresh heap:
# the master with 16 slaves through a rekey cycle, peak heap of the agent
# itself (stand-ins excluded). Then the same cycle again, without the
# per-step collections and traffic of the heap benchmark, counting the
# master's instructions (QEMU -icount shift=0: one ticks_us per 1000), summed
# over its calls only, not over the stand-in slaves answering it.
import time

import mpy_agent_heap as heap
from keyagent.agent import KeyAgent
from keyagent.rekey.ids import to_slave_id
from keyagent.storage import MemoryStorage
from vehicle_sim import FakeModule, KeyPool


def rekey_kinsn():
    agent = KeyAgent(heap.config(), MemoryStorage(), FakeModule(KeyPool(), 0))
    stand_ins = {}
    for n in range(1, heap.SLAVES + 1):
        stand_ins[to_slave_id(n)] = heap.StandIn(n, agent)
    t0 = time.ticks_us()
    agent.start(0)
    spent = time.ticks_diff(time.ticks_us(), t0)
    replies = []
    for now in range(1, 400):
        t0 = time.ticks_us()
        for can_id, data in replies:
            agent.on_frame(can_id, data, now)
        agent.poll(now)
        frames = list(agent.pop_frames())
        spent += time.ticks_diff(time.ticks_us(), t0)
        replies = []
        for can_id, data, fd in frames:
            s = stand_ins.get(can_id)
            if s is not None:
                s.on_frame(data, now, replies)
        keys = agent.keys
        if keys.current is not None and keys.current.epoch == 1 and keys.pending is None \
                and keys.retiring is None and not replies:
            return spent, now
    raise RuntimeError("the rekey cycle did not complete")


spent, ms = rekey_kinsn()
print("BENCH arm_rekey_insn %d insn" % (spent * 1000))
print("BENCH arm_rekey_cycle_ms %d ms" % ms)
