# ARM (when the toolchain, QEMU and a MicroPython source are present): the key
# agent on the emulated Cortex-M4F with the NUCLEO_F446RE's 94,188 B heap.
#   arm_agent_heap_built, arm_agent_heap_peak  bench/mpy_agent_heap.py on ARM: the
#     master with 16 slaves through a rekey cycle, the agent's own heap above
#     its base, stand-ins excluded (goal: peak <= 32 KiB)
#   arm_rekey_insn     the master's instructions for that cycle (-icount shift=0)
#   arm_image_text_both, arm_image_text_slave  flash of the qemu images
#     (boards/manifest.py role="both" / "slave")
#   arm_slave_heap_*   one slave on the slave-only image
# (bench/arm_device/agent_cycle.py, slave_heap.py)
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from host_tools import arm_qemu  # noqa: E402


def main():
    why = arm_qemu.bench_skip_reason()
    if why:
        print("arm benchmarks skipped: %s" % why, file=sys.stderr)
        return 0
    out, elf = arm_qemu.run_bench("agent_cycle")
    print("\n".join(arm_qemu.bench_lines(out, ("BENCH mpy_agent_heap_", "BENCH arm_agent_heap_"))), flush=True)
    print("BENCH arm_image_text_both %d B" % arm_qemu.text_size(elf))
    out, elf = arm_qemu.run_bench("slave_heap", role="slave")
    print("\n".join(arm_qemu.bench_lines(out)), flush=True)
    print("BENCH arm_image_text_slave %d B" % arm_qemu.text_size(elf))
    return 0


if __name__ == "__main__":
    sys.exit(main())
