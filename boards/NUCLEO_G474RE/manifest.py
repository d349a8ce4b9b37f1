# Frozen into the firmware by `make firmware BOARD=NUCLEO_G474RE`: the key agent
# only. The stock image's frozen asyncio, dht and onewire are left out (the
# agent uses none of them) so that the agent and cryptolib fit this board's
# flash. The UDS server and OTA update (about 16 KB of .mpy) are left out
# too: with them the agent outgrows the 28 KB this board had left (`make
# mpy-check` prints each board's frozen size); it is updated with
# `qkd-secoc flash`. The NUCLEO_H743ZI takes updates over UDS.
# cryptolib is built in (boards/cmodules): no AES written in MicroPython.
include("../manifest.py", ota=False, soft_aes=False)
