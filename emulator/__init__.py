# The CPython vehicle emulator: bus model, traffic, scenarios.
