# What exists only on the MicroPython unix port and CPython: the socketcand
# bus client, the pty/TCP module link and the in-RAM filesystem the emulator
# and the OTA tests use. Never frozen nor flashed.
