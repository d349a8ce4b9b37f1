# Frozen into the firmware by `make firmware BOARD=PYBV11`: what MicroPython's
# own build freezes for this board, then the key agent.
include("$(PORT_DIR)/boards/PYBV10/manifest.py")
include("../manifest.py")
