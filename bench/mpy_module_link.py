# MicroPython: the agent's end of the optical-module link.
#   mpy_module_fetch_us: the client's CPU time for one GET_KEY_BY_ID of a
#     256-bit key (encode the request, decode and check the response); the
#     66 bytes of that exchange take 5730 us on a 115200-baud UART.
#   mpy_module_noise_alloc: heap bytes allocated while the client swallows
#     64 KiB of line noise (garbage, oversize and bad-CRC frames): it must be
#     0, nothing grows with what the peer sends.
#   mpy_module_fetch_alloc: heap bytes allocated by one whole GET_KEY_BY_ID
#     exchange on the client (request, response, Result with its key).
import gc
import time

from keyagent.optical import link as ml
from keyagent.optical.client import ModuleClient

KEY_ID = bytes(range(16))
N = 300


def response_wire(seq):
    raw = bytearray(b"\x86") + bytes((seq,)) + b"\x00\x20" + bytes(range(1, 33)) + bytearray(4)
    out = bytearray(ml.MAX_WIRE + 1)
    return bytes(out[0 : ml.encode_frame(raw, 36, out, 0)])


def fetch(c, wires):
    seq = c.get_key_by_id(0, KEY_ID)
    c.data_to_send()
    c.receive_data(wires[seq])
    return c.next_result()


def main():
    c = ModuleClient()
    wires = [response_wire(s) for s in range(256)]
    for _ in range(300):
        fetch(c, wires)  # warm up
    best = None
    for _ in range(5):
        t0 = time.ticks_us()
        for _ in range(N):
            fetch(c, wires)
        t = time.ticks_diff(time.ticks_us(), t0)
        best = t if best is None or t < best else best
    print("BENCH mpy_module_fetch_us %.1f us" % (best / N))

    noise = bytearray(1024)
    for i in range(1024):
        noise[i] = (i * 37 + 11) & 0xFF
        if i % 41 == 40:
            noise[i] = 0  # short frames that fail COBS or the CRC
    noise[500:700] = b"\x55" * 200  # and one oversize frame
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(64):
        c.receive_data(noise)
    used = gc.mem_alloc() - before
    gc.enable()
    if c.rx.rejected() == 0:
        raise RuntimeError("the noise was not rejected")
    print("BENCH mpy_module_noise_alloc %d B" % used)

    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(N):
        fetch(c, wires)
    used = gc.mem_alloc() - before
    gc.enable()
    print("BENCH mpy_module_fetch_alloc %d B/key" % (used // N))


main()
