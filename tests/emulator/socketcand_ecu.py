# A tiny ECU for the MicroPython unix port: joins the bus server with the
# socketcand client adapter, announces itself (0x321 "MPY-ECU"), and answers
# the first 0x322 frame with its bytes reversed on 0x323. Bounded waits.
import sys

from keyagent.unix import socketcand as sc
from keyagent.unix.socketcand_client import SocketcandClient

c = SocketcandClient("127.0.0.1", int(sys.argv[1]), b"can0", timeout_ms=5000)
c.connect()
answered = False
for _ in range(100):
    c.send(0x321, b"MPY-ECU")
    ev = c.recv(100)
    while ev != sc.EV_NONE:
        p = c.parser
        if ev == sc.EV_FRAME and p.can_id == 0x322:
            data = bytes(p.data[: p.length])
            c.send(0x323, bytes(reversed(data)))
            answered = True
            break
        ev = c.recv(0)
    if answered:
        break
c.close()
print("done" if answered else "no request")
sys.exit(0 if answered else 1)
