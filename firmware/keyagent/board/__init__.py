# What runs on a board: the boot-time entry point and the board.json checks.
