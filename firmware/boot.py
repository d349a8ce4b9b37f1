# Runs before main.py. Nothing to set up here beyond MicroPython's own boot:
# the key agent configures the CAN controller, the module UART and the
# watchdog itself when main.py starts it, so a board with a broken
# configuration still reaches the REPL for `qkd-secoc provision` to fix it.
