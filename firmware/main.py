# The board's main program: the qkd-secoc key agent (keyagent.board_main).
from keyagent.board_main import start

start()
