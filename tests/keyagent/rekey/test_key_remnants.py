# Retired keys leave no copy behind (issue 10, finding 7), as far as
# MicroPython lets us: on MicroPython the whole heap is searched for epoch
# 1's keys after three rekeys (tests/keyagent/heap_scan.py). With the AES
# written in MicroPython (run.py --soft-aes) every key schedule can be
# wiped, and no copy of K_mgmt, K_confirm or a cluster key may remain;
# cryptolib's schedules cannot be wiped, so there the copies are only
# measured (bench/mpy_key_remnants.py), as are K_epoch's. On CPython, where
# the heap cannot be read, the keys each ECU holds are its live epochs' only.
import sys

from keyagent.crypto import aes
from heap_scan import NAMES, copies_in_heap, run_vehicle


def test_retired_epoch_keys_leave_no_copy_in_the_heap():
    blob, sim = run_vehicle()
    for a in sim.agents.values():
        for keys in (a.keys.current, a.keys.pending, a.keys.retiring):
            if keys is not None:
                assert keys.epoch >= 2 and bytes(keys.k_epoch) != bytes(blob[0:16])
    if sys.implementation.name == "micropython" and aes.BACKEND == "aes_soft":
        copies = copies_in_heap(blob, sim)
        assert copies[1:] == [0, 0, 0], list(zip(NAMES, copies))
