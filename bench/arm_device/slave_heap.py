# Runs on the slave-only image (boards/manifest.py role="slave": no rekey
# master frozen in) on the emulated Cortex-M4F with the F446RE's heap
# (bench/arm_agent.py): one slave of a 16-slave vehicle, built and started,
# joining for 400 ms with no master answering (the master code is not in this
# image). Peak heap above the heap in use before the agent was built.
import gc

from keyagent.agent import KeyAgent
from keyagent.storage import MemoryStorage
from vehicle_sim import FakeModule, KeyPool, config

try:
    from keyagent.rekey import master  # noqa: F401
    raise RuntimeError("the slave image has the rekey master in it")
except ImportError:
    pass
cfg = config(direct=14, gateway=2)[1]
pool = KeyPool()
gc.collect()
free = gc.mem_free()
base = gc.mem_alloc()
agent = KeyAgent(cfg, MemoryStorage(), FakeModule(pool, 1))
agent.start(0)
gc.collect()
built = gc.mem_alloc() - base
peak = built
for now in range(1, 400):
    agent.poll(now)
    for _ in agent.pop_frames():
        pass
    gc.collect()
    peak = max(peak, gc.mem_alloc() - base)
print("BENCH arm_slave_heap_free_before %d B" % free)
print("BENCH arm_slave_heap_built %d B" % built)
print("BENCH arm_slave_heap_peak %d B" % peak)
