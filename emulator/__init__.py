# The CPython emulator: the optical module pair, the vehicle, faults.
