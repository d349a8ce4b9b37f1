# Thin adapters between the sans-I/O core and hardware or the OS.
