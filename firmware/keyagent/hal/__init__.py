# Thin adapters between the sans-I/O core and hardware or the OS. Only these
# modules touch pyb, machine, micropython.schedule, sockets or clocks, and
# each imports them lazily, so the core imports on any runtime.
