# Frozen into the firmware by `make firmware BOARD=NUCLEO_F446RE`: the key agent
# only. The stock image's frozen asyncio, dht and onewire are left out (the
# agent uses none of them) so that the agent and cryptolib fit this board's
# flash. The UDS server and OTA update (about 16 KB of .mpy) do not fit the
# 7 KB left: this board is updated with `qkd-secoc flash` only.
include("../manifest.py", ota=False)
