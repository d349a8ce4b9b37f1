# CAN FD's data lengths (ISO 11898-1): DLC 0..8 carry 0..8 bytes, DLC 9..15
# carry 12, 16, 20, 24, 32, 48, 64. The one table for SecOC padding, ISO-TP,
# the socketcand parser and the emulator's bit timing.
FD_LENGTHS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64)


def fd_length(n):
    # The shortest CAN FD frame that holds n bytes, or -1 above 64.
    for length in FD_LENGTHS:
        if length >= n:
            return length
    return -1


# fd_length(n) for n in 0..64, as bytes: the per-frame viper path reads it.
FD_LENGTH_OF = bytes(fd_length(n) for n in range(65))
