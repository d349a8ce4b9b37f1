# A UDS server (ISO 14229-1), sans-I/O: one request in, at most one response
# out (docs/ota.md, "UDS services"). Services, the sessions they work in and
# whether they need SecurityAccess are a table; the handlers check lengths
# and sub-functions and answer every bad request with its negative response
# code, never with an exception.
#
#   handle(request, now) -> response bytes, or None (suppressed/no answer)
#   poll(now)            -> the final response of a request answered with
#                           0x78 (responsePending), or None; S3 timeout
#   next_timer(now)
#   reset_due            set by ECUReset once its response is out
from keyagent.compat import const
from keyagent.ota.image import ImageError

DEFAULT = const(1)
PROGRAMMING = const(2)
EXTENDED = const(3)
P2_MS = 50
P2_STAR_MS = 5000
S3_MS = 5000
BLOCK_LEN = 0x402  # maxNumberOfBlockLength: SID + counter + 1024 data bytes

NRC_SERVICE = 0x11
NRC_SUBFUNCTION = 0x12
NRC_LENGTH = 0x13
NRC_CONDITIONS = 0x22
NRC_SEQUENCE = 0x24
NRC_RANGE = 0x31
NRC_SECURITY = 0x33
NRC_TRANSFER_SUSPENDED = 0x71
NRC_PROGRAMMING = 0x72
NRC_BLOCK_COUNTER = 0x73
NRC_PENDING = 0x78
NRC_SUB_SESSION = 0x7E
NRC_SERVICE_SESSION = 0x7F

RID_ERASE = 0xFF00
RID_CHECK = 0x0202
RID_ACTIVATE = 0xFF01

# How an update step that the OTA code refused is answered.
IMAGE_NRC = {"downgrade": NRC_CONDITIONS, "busy": NRC_CONDITIONS, "not_erased": NRC_CONDITIONS,
             "bad_file": NRC_PROGRAMMING, "no_image": NRC_PROGRAMMING,
             "incomplete": NRC_SEQUENCE, "nothing_downloaded": NRC_SEQUENCE,
             "not_checked": NRC_SEQUENCE, "overrun": NRC_TRANSFER_SUSPENDED}

_ALL = (DEFAULT, PROGRAMMING, EXTENDED)
_NOT_DEFAULT = (PROGRAMMING, EXTENDED)
_PROG = (PROGRAMMING,)
# SID: (handler name, sessions, needs SecurityAccess, minimum length)
SERVICES = {
    0x10: ("_session", _ALL, False, 2),
    0x11: ("_reset", _ALL, False, 2),
    0x22: ("_read", _ALL, False, 3),
    0x27: ("_security", _NOT_DEFAULT, False, 2),
    0x31: ("_routine", _PROG, True, 4),
    0x34: ("_download", _PROG, True, 5),
    0x36: ("_transfer", _PROG, True, 2),
    0x37: ("_exit", _PROG, True, 1),
    0x3E: ("_tester_present", _ALL, False, 2),
}


def negative(sid, nrc):
    return bytes((0x7F, sid, nrc))


class UdsServer:
    # dids: {DID: callable() -> bytes}; updater: keyagent.ota.updater.Updater
    def __init__(self, security, updater, dids, s3_ms=S3_MS):
        self.security = security
        self.updater = updater
        self.dids = dids
        self.s3_ms = s3_ms
        self.session = DEFAULT
        self.last_request = 0
        self.reset_due = False
        self.nrcs = {}  # NRC -> count, what a test or the emulator reports
        self._pending = None  # (SID, handler) of a request answered with 0x78
        self._counter = 0  # TransferData's blockSequenceCounter, 1, 2, .. 0xFF, 0, 1, ..
        self._blocks = 0

    def handle(self, req, now):
        if not req:
            return None
        self.last_request = now
        sid = req[0]
        entry = SERVICES.get(sid)
        if entry is None:
            return self._no(sid, NRC_SERVICE)
        name, sessions, secure, min_len = entry
        if self.session not in sessions:
            return self._no(sid, NRC_SERVICE_SESSION)
        if len(req) < min_len:
            return self._no(sid, NRC_LENGTH)
        if secure and not self.security.unlocked:
            return self._no(sid, NRC_SECURITY)
        return getattr(self, name)(req, now)

    def poll(self, now):
        if self.session != DEFAULT and now - self.last_request >= self.s3_ms:
            self._enter(DEFAULT)  # S3: the tester went away
        if self._pending is None:
            return None
        sid, fn = self._pending
        self._pending = None
        return self._run(sid, fn)

    def next_timer(self, now):
        if self._pending is not None:
            return now
        if self.session != DEFAULT:
            return self.last_request + self.s3_ms
        return now + 3600000

    def _no(self, sid, nrc):
        self.nrcs[nrc] = self.nrcs.get(nrc, 0) + 1
        return negative(sid, nrc)

    def _ok(self, req, body, sub=True):
        # The positive response, or None when the sub-function asks silence.
        if sub and req[1] & 0x80:
            return None
        return bytes((req[0] + 0x40,)) + body

    def _run(self, sid, fn):
        try:
            return fn()
        except ImageError as e:
            return self._no(sid, IMAGE_NRC.get(e.args[0], NRC_RANGE))
        except OSError:
            self.updater.cancel()
            return self._no(sid, NRC_PROGRAMMING)

    def _enter(self, session):
        if session != self.session or session == DEFAULT:
            self.security.lock()
        if session != PROGRAMMING:
            self.updater.cancel()
        self.session = session

    # Services.

    def _session(self, req, now):
        sub = req[1] & 0x7F
        if sub not in _ALL:
            return self._no(0x10, NRC_SUBFUNCTION)
        if len(req) != 2:
            return self._no(0x10, NRC_LENGTH)
        self._enter(sub)
        return self._ok(req, bytes((sub, P2_MS >> 8, P2_MS & 0xFF, (P2_STAR_MS // 10) >> 8,
                                    (P2_STAR_MS // 10) & 0xFF)))

    def _reset(self, req, now):
        sub = req[1] & 0x7F
        if sub not in (1, 3):  # hard reset, soft reset
            return self._no(0x11, NRC_SUBFUNCTION)
        if len(req) != 2:
            return self._no(0x11, NRC_LENGTH)
        if self.updater.download is not None:
            return self._no(0x11, NRC_CONDITIONS)
        self.reset_due = True
        return self._ok(req, bytes((sub,)))

    def _read(self, req, now):
        if len(req) % 2 != 1:
            return self._no(0x22, NRC_LENGTH)
        out = bytearray()
        for i in range(1, len(req), 2):
            did = (req[i] << 8) | req[i + 1]
            fn = self.dids.get(did)
            if fn is not None:
                out.extend(req[i:i + 2])
                out.extend(fn())
        if not out:
            return self._no(0x22, NRC_RANGE)
        return self._ok(req, bytes(out), False)

    def _security(self, req, now):
        sub = req[1] & 0x7F
        if sub == 1:
            if len(req) != 2:
                return self._no(0x27, NRC_LENGTH)
            nrc, seed = self.security.request_seed(now)
            return self._no(0x27, nrc) if nrc else self._ok(req, bytes((1,)) + seed)
        if sub == 2:
            if len(req) != 18:
                return self._no(0x27, NRC_LENGTH)
            nrc = self.security.send_key(req[2:], now)
            return self._no(0x27, nrc) if nrc else self._ok(req, bytes((2,)))
        return self._no(0x27, NRC_SUBFUNCTION)

    def _routine(self, req, now):
        if req[1] & 0x7F != 1:  # startRoutine only
            return self._no(0x31, NRC_SUBFUNCTION)
        rid = (req[2] << 8) | req[3]
        u = self.updater
        fn = {RID_ERASE: u.erase, RID_CHECK: u.check, RID_ACTIVATE: u.activate}.get(rid)
        if fn is None:
            return self._no(0x31, NRC_RANGE)
        if len(req) != 4:
            return self._no(0x31, NRC_LENGTH)
        quiet = req[1] & 0x80

        def run():
            fn()
            return None if quiet else bytes((0x71, 1, req[2], req[3], 0))

        self._pending = (0x31, run)
        return self._no(0x31, NRC_PENDING)  # erase and check read the whole slot

    def _download(self, req, now):
        if self.updater.download is not None:
            return self._no(0x34, NRC_CONDITIONS)
        if req[1] != 0:  # dataFormatIdentifier: no compression, no encryption
            return self._no(0x34, NRC_RANGE)
        size_len, addr_len = req[2] >> 4, req[2] & 0x0F
        if not 1 <= size_len <= 4 or not 1 <= addr_len <= 4:
            return self._no(0x34, NRC_RANGE)
        if len(req) != 3 + addr_len + size_len:
            return self._no(0x34, NRC_LENGTH)
        addr = int.from_bytes(req[3:3 + addr_len], "big")
        size = int.from_bytes(req[3 + addr_len:], "big")
        if addr != 0:  # the inactive slot is address 0 of its own space
            return self._no(0x34, NRC_RANGE)
        try:
            self.updater.start(size)
        except ImageError as e:
            return self._no(0x34, NRC_RANGE if e.args[0] == "too_large" else NRC_CONDITIONS)
        self._counter = 0
        self._blocks = 0
        return self._ok(req, bytes((0x20, BLOCK_LEN >> 8, BLOCK_LEN & 0xFF)), False)

    def _transfer(self, req, now):
        if self.updater.download is None:
            return self._no(0x36, NRC_SEQUENCE)
        if len(req) > BLOCK_LEN:
            return self._no(0x36, NRC_LENGTH)
        counter = req[1]
        if counter == self._counter and self._blocks:
            return self._ok(req, bytes((counter,)), False)  # a repeat: written already
        if counter != (self._counter + 1) & 0xFF:
            return self._no(0x36, NRC_BLOCK_COUNTER)
        self._counter = counter
        self._blocks += 1

        def write():
            self.updater.write(req[2:])
            return bytes((0x76, counter))

        return self._run(0x36, write)

    def _exit(self, req, now):
        if self.updater.download is None:
            return self._no(0x37, NRC_SEQUENCE)

        def finish():
            self.updater.finish()
            return bytes((0x77,))

        return self._run(0x37, finish)

    def _tester_present(self, req, now):
        if req[1] & 0x7F != 0:
            return self._no(0x3E, NRC_SUBFUNCTION)
        if len(req) != 2:
            return self._no(0x3E, NRC_LENGTH)
        return self._ok(req, b"\x00")
