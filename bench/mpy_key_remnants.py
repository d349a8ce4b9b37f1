# MicroPython: copies of retired key material left in the heap after three
# rekeys on a 3-ECU vehicle (tests/keyagent/heap_scan.py says how).
#   mpy_key_remnants_<backend>: copies of epoch 1's K_epoch, K_mgmt,
#   K_confirm and cluster key found, all ECUs together (issue 10 measured
#   3 to 6 per key before the KDF and key derivations stopped making
#   immutable copies and K_mgmt got one CMAC context per epoch). The count
#   depends on the heap: in a small one freed memory is soon reused; with
#   -X heapsize=4m, after this change, 20 (12 K_epoch), of which cryptolib's
#   unwipeable key schedules are most (the AES written in MicroPython: 6).
from keyagent.crypto import aes
from heap_scan import NAMES, copies_in_heap, run_vehicle

blob, sim = run_vehicle()
copies = copies_in_heap(blob, sim)
print("BENCH mpy_key_remnants_%s %d copies (%s)" % (
    aes.BACKEND, sum(copies), ", ".join("%s %d" % nc for nc in zip(NAMES, copies))))
