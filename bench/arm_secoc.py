# ARM (when the toolchain, QEMU and a MicroPython source are present): SecOC
# per-frame cost on the emulated Cortex-M4F in instructions, deterministic
# (QEMU -icount shift=0; bench/arm_device/secoc_insn.py):
#   arm_secoc_insn_per_frame  protect + verify of one Profile 1 classic-CAN frame
#   arm_verify_insn           the verify alone (goal: <= 8,000)
#   arm_aes_block_insn        one raw cryptolib AES block call
#   arm_secoc_vs_aes          the frame over its two AES calls (goal: <= 6x)
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from host_tools import arm_qemu  # noqa: E402


def main():
    why = arm_qemu.bench_skip_reason()
    if why:
        print("arm benchmarks skipped: %s" % why, file=sys.stderr)
        return 0
    out, _ = arm_qemu.run_bench("secoc_insn")
    print("\n".join(arm_qemu.bench_lines(out)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
