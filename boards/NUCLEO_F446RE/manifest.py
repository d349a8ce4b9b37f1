# Frozen into the firmware by `make firmware BOARD=NUCLEO_F446RE`: the key agent
# only. The stock image's frozen asyncio, dht and onewire are left out (the
# agent uses none of them) so that the agent and cryptolib fit this board's
# flash.
include("../manifest.py")
