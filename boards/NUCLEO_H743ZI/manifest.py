# Frozen into the firmware by `make firmware BOARD=NUCLEO_H743ZI`: what MicroPython's
# own build freezes for this board, then the key agent.
include("$(BOARD_DIR)/manifest.py")
include("../manifest.py")
