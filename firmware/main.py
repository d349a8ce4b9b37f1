# The board's main program: the qkd-secoc key agent (keyagent.board.main).
from keyagent.board.main import start

start()
