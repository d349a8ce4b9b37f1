# MicroPython benchmark of the gateway's key stock (unix port, firmware/ on
# MICROPYPATH): taking one key (find its slot, unwrap it under the device
# key, zero the slot), and writing the flash image after a take.
import time

from keyagent.keystore.store import KeyStore

DEVICE = bytes(range(16))
N = 64


def stocked():
    s = KeyStore(DEVICE, capacity=N, low_water=0)
    for i in range(N):
        s.add("rsu-%d" % (i % 4), bytes(15) + bytes((i,)), bytes((i + j) & 0xFF for j in range(32)))
    return s


def bench_take():
    s = stocked()
    t0 = time.ticks_us()
    for i in range(N):
        if s.take("rsu-%d" % (i % 4)) is None:
            raise RuntimeError("stock ran out")
    return time.ticks_diff(time.ticks_us(), t0) / N


def bench_image(rounds):
    s = stocked()
    t0 = time.ticks_us()
    for _ in range(rounds):
        s.image()
    return time.ticks_diff(time.ticks_us(), t0) / rounds


print("BENCH mpy_keystore_take_us %d us" % bench_take())
print("BENCH mpy_keystore_image_us %d us" % bench_image(10))
