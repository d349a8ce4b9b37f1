# What both qemu boards add to MicroPython's ports/qemu, so that they run the
# same image as the real boards: the key agent frozen through boards/manifest.py,
# cryptolib's AES from boards/cmodules, and LittleFS for a RAM disk the test
# runner mounts at /tmp (the qemu port has no filesystem of its own).
QKD_BOARDS := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
# QKD_MANIFEST: another manifest, e.g. one that includes boards/manifest.py with role="slave".
QKD_MANIFEST ?= $(QKD_BOARDS)/manifest.py
FROZEN_MANIFEST = $(QKD_MANIFEST)
USER_C_MODULES = $(QKD_BOARDS)/cmodules
# mbedtls/mbedtls_config_port.h for cryptolib_aes, found through this folder.
INC += -I$(QKD_BOARDS)/qemu
MICROPY_VFS_LFS2 = 1
# LittleFS stamps files with mp_hal_time_ns(), which the qemu port lacks: it
# has no real-time clock, so every file time is the epoch.
CFLAGS += '-Dmp_hal_time_ns()=(0ULL)'
