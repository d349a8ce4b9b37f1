# QEMU's mps2-an386: a Cortex-M4F (armv7emsp), the instruction set of the
# NUCLEO_F446RE and NUCLEO_G474RE, with the F446RE's MicroPython heap
# (94,188 B, from its linker symbols) so heap figures hold for that board.
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an386

CFLAGS += -mthumb -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M4F"'

LDSCRIPT = mcu/arm/mps2.ld

SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o

MPY_CROSS_FLAGS += -march=armv7emsp

MICROPY_FLOAT_IMPL = float
SUPPORTS_HARDWARE_FP_SINGLE = 1
MICROPY_HEAP_SIZE ?= 94188

include $(BOARD_DIR)/../common.mk
