# Runtime switches read once at import time by the modules that have a
# fast (viper) implementation or a fallback. The MicroPython test runner
# turns NATIVE off to run the plain fallbacks through the same tests, and
# turns SOFT_AES on to run everything over the AES written in MicroPython
# instead of cryptolib.
NATIVE = True
SOFT_AES = False
