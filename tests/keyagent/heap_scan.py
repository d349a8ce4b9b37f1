# Copies of retired key material left in the heap (issue 10, finding 7),
# for tests/keyagent/rekey/test_key_remnants.py and bench/mpy_key_remnants.py.
# A small vehicle (vehicle_sim.py, 3 ECUs) runs three rekeys; then every
# byte of the MicroPython heap is searched for the 16-byte keys of epoch 1
# (K_epoch, K_mgmt, K_confirm, the cluster key), retired and zeroised two
# epochs before. (The QKD key itself is left out: the stand-in module keeps
# every key it handed out.) The heap is the mapping that holds our objects
# (id() is the address on MicroPython; /proc/self/maps says where it ends),
# read with uctypes: unix port only.
import gc

from keyagent.crypto import kdf
from keyagent.rekey import messages as msgs
from vehicle_sim import Sim, config

NAMES = ("K_epoch", "K_mgmt", "K_confirm", "K_secoc")


def heap_bounds(obj):
    a = id(obj)
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = [int(x, 16) for x in line.split()[0].split("-")]
            if lo <= a < hi:
                return lo, hi
    raise RuntimeError("no mapping holds the heap")


def needles():
    # Epoch 1's keys, computed before the run into one buffer, every
    # temporary wiped, so that the search finds no copy of our own making.
    q = bytearray((7 + i) & 0xFF for i in range(32))  # the stand-in pool's first key
    k_epoch = msgs.epoch_key(q, 1)
    blob = bytearray(64)
    blob[0:16] = k_epoch
    derived = (msgs.mgmt_key(k_epoch, 1), msgs.confirm_key(k_epoch, 1), kdf.secoc_key(k_epoch, 1, 1))
    for n, k in enumerate(derived):
        blob[16 * (n + 1):16 * (n + 2)] = k
        msgs.wipe(k)
    msgs.wipe(k_epoch)
    msgs.wipe(q)
    return blob


def run_vehicle():
    blob = needles()
    sim = Sim(config(direct=1, gateway=1))
    sim.run(2500)  # epochs 1..3: epoch 1 retired and zeroised long ago
    return blob, sim


def copies_in_heap(blob, sim):
    # Copies of each key of blob anywhere in the heap: MicroPython only.
    import uctypes

    gc.collect()
    lo, hi = heap_bounds(sim)
    mem = uctypes.bytearray_at(lo, hi - lo)
    out = []
    for n in range(len(blob) // 16):
        needle = bytes(memoryview(blob)[16 * n:16 * (n + 1)])  # find() takes no memoryview
        found, i = 0, mem.find(needle)
        while i >= 0:
            found += 1
            i = mem.find(needle, i + 1)
        out.append(found - 2)  # the blob and the needle
    return out
