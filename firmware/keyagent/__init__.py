# qkd-secoc key agent: the sans-I/O core shared by MicroPython boards,
# the MicroPython unix port and CPython. Nothing here touches hardware,
# sockets or clocks; adapters in keyagent.hal do.
