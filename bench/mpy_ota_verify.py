# MicroPython: checking an installed slot, what boot.py does before it starts
# one and the check routine (0x31 0x0202) does after a download: the header's
# AES-CMAC tag plus the SHA-256 of every file, read back from the
# filesystem seam (MemoryFs here: the crypto and parsing, not flash speed).
#   mpy_ota_verify_us_per_kb: microseconds per KB of agent files.
import time

from ota_fixture import Rig, make_image, files
from keyagent.ota.slots import SlotStore
from ota_fixture import KEYS, NODE, BOARD, ARCH

REPEATS = 5


def main():
    content = files("1.1.0", n=16, size=4096)  # 16 files, about 66 KB
    rig = Rig()
    rig.unlock()
    assert rig.push(make_image("1.1.0", content=content)) is None
    store = SlotStore(rig.fs, KEYS, NODE, BOARD, ARCH)
    kb = sum(len(d) for _, d in content) / 1024
    best = None
    for _ in range(REPEATS):
        t0 = time.ticks_us()
        store.verify("a")
        dt = time.ticks_diff(time.ticks_us(), t0)
        best = dt if best is None or dt < best else best
    print("BENCH mpy_ota_verify_us_per_kb %.1f us/KB" % (best / kb))


main()
