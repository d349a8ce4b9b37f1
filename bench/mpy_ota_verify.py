# MicroPython: what an update costs the ECU, on the unix port.
#   mpy_ota_verify_us_per_kb: checking an installed slot, what boot.py does
#     before it starts one and the check routine (0x31 0x0202) after a
#     download: the header's AES-CMAC tag plus the SHA-256 of every file,
#     read back through the filesystem seam (MemoryFs: crypto and parsing,
#     not flash speed), in microseconds per KB of agent files.
#   mpy_ota_download_heap: the most heap an update keeps live between two
#     requests (after a collection), over the server's own, for an image of
#     64 files written to real files: the header and the parsed manifest,
#     the open file and its hash, the ISO-TP-sized request.
import gc
import os
import time

from ota_fixture import Rig, make_image, files
from keyagent.ota.fs import OsFs
from keyagent.ota.slots import SlotStore
from ota_fixture import KEYS, NODE, BOARD, ARCH

REPEATS = 5


def verify_us_per_kb():
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
    return best / kb


class Counting(Rig):
    # Samples the live heap after each request.
    peak = 0

    def ask(self, req):
        resp = Rig.ask(self, req)
        gc.collect()
        if gc.mem_alloc() > self.peak:
            self.peak = gc.mem_alloc()
        return resp


def remove_tree(path):
    for name in os.listdir(path):
        p = path + "/" + name
        if os.stat(p)[0] & 0x4000:
            remove_tree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def download_heap():
    # Files go to a real folder (OsFs), so that only the server's own state
    # is on the heap; the image the tester sends from is in the baseline.
    img = make_image("1.1.0", content=files("1.1.0", n=64, size=256))
    root = "/tmp/qkd-secoc-ota-bench-%d" % time.ticks_us()
    os.mkdir(root)
    try:
        gc.collect()
        rig = Counting(fs=OsFs(root))
        rig.unlock()
        gc.collect()
        rig.peak = base = gc.mem_alloc()
        assert rig.push(img) is None
        return rig.peak - base
    finally:
        remove_tree(root)


print("BENCH mpy_ota_verify_us_per_kb %.1f us/KB" % verify_us_per_kb())
print("BENCH mpy_ota_download_heap %d bytes" % download_heap())
