# QEMU's mps2-an500: a Cortex-M7 with a double-precision FPU (armv7emdp), the
# NUCLEO_H743ZI's instruction set: MicroPython's own board plus the agent.
include $(TOP)/ports/qemu/boards/MPS2_AN500/mpconfigboard.mk
include $(BOARD_DIR)/../common.mk
