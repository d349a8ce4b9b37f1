# MicroPython benchmark of the SHE key update and ISO-TP paths (unix port,
# firmware/ on MICROPYPATH). Prints BENCH lines; values are per operation.
import time

from keyagent.crypto import she
from keyagent.crypto.she_store import SheKeyStore
from keyagent.isotp.connection import IsoTpReceiver, IsoTpSender

UID = bytes(14) + b"\x01"
AUTH = bytes(range(16))
NEW = bytes(range(15, -1, -1))


def bench_update(rounds):
    store = SheKeyStore(UID)
    store.provision(she.MASTER_ECU_KEY, AUTH)
    t0 = time.ticks_us()
    for i in range(rounds):
        upd = she.KeyUpdate(UID, 4, 1, AUTH, NEW, i + 1, 0)
        code, _, m5 = store.load_key(upd.m1, upd.m2, upd.m3)
        if code != 0 or not upd.check_m5(m5):
            raise RuntimeError("key update failed")
    return time.ticks_diff(time.ticks_us(), t0) / rounds


def bench_isotp(size, rounds):
    data = bytes(size)
    frames = 0
    t0 = time.ticks_us()
    for _ in range(rounds):
        tx, rx = IsoTpSender(), IsoTpReceiver(max_size=size)
        tx.send(data, 0)
        while tx.busy():
            f = tx.poll(0)
            if f is None:
                break
            frames += 1
            fc = rx.on_frame(f, 0)
            if fc is not None:
                tx.on_frame(fc, 0)
        if rx.pop_message() != data:
            raise RuntimeError("ISO-TP transfer failed")
    return time.ticks_diff(time.ticks_us(), t0) / frames


print("BENCH mpy_she_key_update_us %d us" % bench_update(20))
print("BENCH mpy_isotp_frame_us %.1f us" % bench_isotp(4095, 5))
