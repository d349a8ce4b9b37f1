# Frozen into the firmware by `make firmware BOARD=NUCLEO_G474RE`: what MicroPython's
# own build freezes for this board, then the key agent.
include("$(PORT_DIR)/boards/manifest.py")
include("../manifest.py")
