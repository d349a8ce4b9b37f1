# What exists only on the MicroPython unix port and CPython: the socketcand
# bus client and the pty/TCP module link. Never frozen nor flashed.
