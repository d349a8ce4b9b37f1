# The mpremote plumbing `qkd-secoc flash` and `provision` share: one
# MicroPython board (or a unix-port instance on a pty) reached over a serial
# port or a pyserial URL (socket://host:port, rfc2217://...), driven through
# its raw REPL with mpremote's own transport.
#
#   with BoardLink("/dev/ttyACM0") as board:
#       board.write_file("keyagent/cmac.mpy", data)
#       board.exec("import keyagent.crypto.cmac")
#
# It does not soft-reset on connect (mpremote's default): Ctrl-C stops
# whatever runs, which is enough to copy files, and the unix port has no
# soft reset. Every transport failure becomes a one-line UserError; file
# contents (keys among them) never appear in one.
import contextlib
import io
import os

from host_tools.errors import UserError

CHUNK = 1024  # bytes of file data per raw-REPL command
ENTER_TIMEOUT_S = 5


class BoardLink:
    def __init__(self, port, baudrate=115200):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        self.port = port
        if os.sep in port and "://" not in port and not os.path.exists(port):
            raise UserError("cannot open %s: no such device" % port)
        try:
            self._t = SerialTransport(port, baudrate=baudrate, timeout=ENTER_TIMEOUT_S)
        except TransportError as e:
            raise UserError("cannot open %s: %s" % (port, e)) from None
        except (OSError, ValueError) as e:  # pyserial: a bad URL or an unusable device
            raise UserError("cannot open %s: %s" % (port, e)) from None
        try:
            # mpremote prints what it got when the raw REPL does not answer.
            with contextlib.redirect_stdout(io.StringIO()):
                self._t.enter_raw_repl(soft_reset=False, timeout_overall=ENTER_TIMEOUT_S)
        except (TransportError, OSError) as e:
            self._t.close()
            raise UserError("%s: no MicroPython raw REPL (%s)" % (port, e)) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        t, self._t = self._t, None
        if t is None:
            return
        try:
            t.exit_raw_repl()
        except OSError:
            pass
        t.close()

    def _fail(self, what, e):
        detail = getattr(e, "error_output", None) or str(e)
        lines = [line for line in str(detail).strip().splitlines() if line.strip()]
        raise UserError("%s: %s failed: %s" % (self.port, what, lines[-1] if lines else type(e).__name__)) from None

    def exec(self, code, what="running code"):
        """Run code on the board; returns what it printed (bytes)."""
        from mpremote.transport import TransportError, TransportExecError

        try:
            return self._t.exec(code)
        except (TransportExecError, TransportError, OSError) as e:
            self._fail(what, e)

    def mkdirs(self, path):
        # Every directory of path, like os.makedirs(exist_ok=True).
        self.exec("import os\np=''\nfor d in %r.split('/'):\n p=p+d if not p else p+'/'+d\n"
                  " try:\n  os.mkdir(p)\n except OSError:\n  pass" % path)

    def write_file(self, path, data):
        from mpremote.transport import TransportError, TransportExecError

        try:
            self._t.fs_writefile(path, bytes(data), chunk_size=CHUNK)
        except (TransportExecError, TransportError, OSError) as e:
            self._fail("writing %s" % path, e)

    def write_file_atomic(self, path, data):
        # A reset in the middle leaves the old file whole.
        self.write_file(path + ".tmp", data)
        self.exec("import os\ntry:\n os.remove(%r)\nexcept OSError:\n pass\nos.rename(%r, %r)"
                  % (path, path + ".tmp", path))

    def read_file(self, path):
        """The file's bytes, or None if there is none."""
        from mpremote.transport import TransportError, TransportExecError

        try:
            return bytes(self._t.fs_readfile(path, chunk_size=CHUNK))
        except FileNotFoundError:
            return None
        except (TransportExecError, TransportError, OSError) as e:
            self._fail("reading %s" % path, e)

    def remove_tree(self, path):
        # Remove a directory and everything in it (absent: nothing to do).
        self.exec("import os\ndef _rm(p):\n try:\n  m=os.stat(p)[0]\n except OSError:\n  return\n"
                  " if m&0x4000:\n  for e in os.listdir(p):\n   _rm(p+'/'+e)\n  os.rmdir(p)\n"
                  " else:\n  os.remove(p)\n_rm(%r)" % path)
