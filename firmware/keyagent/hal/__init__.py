# Adapters between the sans-I/O core and a board or an operating system.
# Only these modules touch pyb, machine, micropython.schedule, sockets or
# clocks, and each imports them lazily, so the core imports on any runtime.
