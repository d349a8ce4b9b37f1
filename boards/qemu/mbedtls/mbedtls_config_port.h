// Mbed TLS configuration for cryptolib_aes (boards/cmodules) on MicroPython's
// bare-metal qemu port: MicroPython's common configuration without a clock
// (the port has no mbedtls_ms_time, so the time features must be off).
#ifndef QKD_QEMU_MBEDTLS_CONFIG_PORT_H
#define QKD_QEMU_MBEDTLS_CONFIG_PORT_H

#include "extmod/mbedtls/mbedtls_config_common.h"

#undef MBEDTLS_HAVE_TIME
#undef MBEDTLS_HAVE_TIME_DATE

#endif
