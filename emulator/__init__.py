# The CPython emulator of the vehicle: many keyagent cores, the optical
# module pair, the bus model, attackers and faults, in one event loop.
