# cryptolib (AES) without the ssl module. The agent needs AES, not TLS, and
# MICROPY_PY_SSL=1 does not fit every board: the STM32F446 has no hardware
# RNG for the Mbed TLS port's entropy hook (and axTLS needs lwIP's POSIX
# headers on stm32), and the whole TLS stack overflows the G474RE's flash by
# 139 KB. This compiles only Mbed TLS's block cipher and hash code from
# MicroPython's own lib/mbedtls; `make firmware` adds this folder as
# USER_C_MODULES for the boards whose board.json says so.
SRC_USERMOD_LIB_C += $(addprefix lib/mbedtls/library/, aes.c md5.c platform_util.c sha1.c sha256.c)
CFLAGS_USERMOD += -DMICROPY_PY_CRYPTOLIB=1 -DMICROPY_SSL_MBEDTLS=1
CFLAGS_USERMOD += -I$(TOP)/lib/mbedtls/include -DMBEDTLS_CONFIG_FILE='"mbedtls/mbedtls_config_port.h"'
