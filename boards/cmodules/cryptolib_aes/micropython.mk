# cryptolib (AES) without the ssl module, for MCUs that MicroPython's Mbed TLS
# port does not support because they have no hardware RNG (STM32F446: the
# port's entropy hook needs one, and axTLS needs lwIP's POSIX headers on stm32).
# Compiles only Mbed TLS's block cipher and hash code from MicroPython's own
# lib/mbedtls submodule; `make firmware` adds this folder as USER_C_MODULES.
SRC_USERMOD_LIB_C += $(addprefix lib/mbedtls/library/, aes.c md5.c platform_util.c sha1.c sha256.c)
CFLAGS_USERMOD += -DMICROPY_PY_CRYPTOLIB=1 -DMICROPY_SSL_MBEDTLS=1
CFLAGS_USERMOD += -I$(TOP)/lib/mbedtls/include -DMBEDTLS_CONFIG_FILE='"mbedtls/mbedtls_config_port.h"'
