# Runtime switches read once at import time by the modules that have a
# fast (viper) implementation. The MicroPython test runner turns NATIVE off
# to run the plain fallbacks through the same tests.
NATIVE = True
