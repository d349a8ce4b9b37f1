# A MicroPython unix-port instance standing in for a board: its REPL on a
# pty, relayed to a second pty whose device path mpremote opens like a USB
# serial port. The "board filesystem" is the process's working directory,
# and MICROPYPATH is only that directory, so imports there see exactly what
# was copied.
import os
import pty
import select
import subprocess
import sys
import threading
import tty


def micropython_exe():
    exe = os.environ.get("MICROPYTHON") or os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(exe):
        raise RuntimeError("no MicroPython interpreter: set MICROPYTHON")
    return exe


class UnixBoard:
    def __init__(self, root):
        self.root = str(root)
        board_m, board_s = pty.openpty()
        host_m, host_s = pty.openpty()
        for fd in (board_s, host_s):
            tty.setraw(fd)
        env = dict(os.environ, MICROPYPATH=self.root)
        self.proc = subprocess.Popen([micropython_exe(), "-i"], stdin=board_s, stdout=board_s,
                                     stderr=board_s, cwd=self.root, env=env, close_fds=True)
        os.close(board_s)
        self.port = os.ttyname(host_s)
        self._fds = (board_m, host_m, host_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def _relay(self):
        board_m, host_m, _ = self._fds
        other = {board_m: host_m, host_m: board_m}
        while not self._stop.is_set():
            ready, _, _ = select.select([board_m, host_m], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                os.write(other[fd], data)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.proc.kill()
        self.proc.wait(5)
        for fd in self._fds:
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
