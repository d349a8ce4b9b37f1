# Runs on the emulated Cortex-M4F under QEMU's -icount shift=0 (bench/arm_secoc.py):
# the guest clock advances one nanosecond per instruction, so a ticks_us()
# difference is a count of thousands of instructions, the same on every run.
# The frame and AES loops are bench/mpy_secoc.py's (Profile 1 classic CAN:
# 4-byte payload, 8 FV bits and 24 MAC bits on the wire, 24-bit FV).
import time

from mpy_secoc import endpoints, time_aes, time_frames

N = 300
PAYLOAD = b"\x11\x22\x33\x44"


def verify_kinsn(tx, rx, n):
    frames = [bytearray(8) for _ in range(n)]
    for f in frames:
        tx.protect(PAYLOAD, 4, f)
    verify = rx.verify
    t0 = time.ticks_us()
    for f in frames:
        if verify(f, 8):
            raise RuntimeError("verify failed")
    return time.ticks_diff(time.ticks_us(), t0)


def mac_frame_kinsn(tx, rx, n):
    # The viper kernel of a verify alone (MAC input, CMAC, truncated compare),
    # with the frame's FV given rather than taken from the receiver's counter
    # (which would refuse the frame as a replay after the first call): what
    # the Python around it and the counter step cost is verify minus this.
    frame = bytearray(8)
    tx.protect(PAYLOAD, 4, frame)
    fv = tx.fvm.counter
    key, st, x, mac = rx.key, rx._st, rx._x, rx._mac
    t0 = time.ticks_us()
    for _ in range(n):
        if not mac(key.enc, key.sub, st, x, None, frame, 4, fv, None):
            raise RuntimeError("mac_frame failed")
    return time.ticks_diff(time.ticks_us(), t0)


tx, rx = endpoints()
time_frames(tx, rx, 10)  # first calls: caches, buffers
both = time_frames(tx, rx, N)
verify = verify_kinsn(tx, rx, N)
kernel = mac_frame_kinsn(tx, rx, N)
aes2 = time_aes(N)  # the two AES block calls a protect plus a verify needs
print("BENCH arm_secoc_insn_per_frame %d insn" % (both * 1000 // N))
print("BENCH arm_verify_insn %d insn" % (verify * 1000 // N))
print("BENCH arm_verify_mac_frame_insn %d insn" % (kernel * 1000 // N))
print("BENCH arm_aes_block_insn %d insn" % (aes2 * 1000 // N // 2))
print("BENCH arm_secoc_vs_aes %.1f x" % (both / aes2))
