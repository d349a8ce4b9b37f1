# Frozen into the firmware by `make firmware BOARD=NUCLEO_F446RE`: the key agent
# only. The stock image's frozen asyncio, dht and onewire are left out (the
# agent uses none of them) so that the agent and cryptolib fit this board's
# flash, and so are the UDS server and OTA update (about 16 KB of .mpy) and
# the rekey master with the gateway's key stock (about 10 KB): with them the
# agent no longer fits the 7 KB this board had left (`make mpy-check` prints
# each board's frozen size). This board is a slave ECU, updated with
# `qkd-secoc flash`; a gateway needs a board with more flash (G474RE, H743ZI).
# The image builds cryptolib in (boards/cmodules), so the AES written in
# MicroPython stays out too (about 3 KB).
include("../manifest.py", role="slave", ota=False, soft_aes=False)
