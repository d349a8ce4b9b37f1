# AUTOSAR SecOC: authenticating and verifying secured I-PDUs.
#
#   MAC input   = Data ID (16 bits, big-endian) || authentic PDU
#                 || complete freshness value (big-endian, ceil(fv_bits/8) bytes)
#   secured PDU = [length header] || authentic PDU || truncated FV (its low
#                 tx bits, or what a multi-counter layout puts on the wire)
#                 || truncated MAC (its high bits), packed MSB first,
#                 zero bits up to a whole byte; on CAN FD, padded to a valid
#                 FD frame length.
#
# SecOCTx and SecOCRx keep every buffer they need, so protect() and verify()
# allocate nothing on MicroPython. Peer input never raises: verify() returns
# a reason code and counts it.
from keyagent.compat import const
from keyagent import features
from keyagent.secoc import frame_mac
from keyagent.secoc.frame_mac import frame_length
from keyagent.secoc.bitpack import put_bits

OK = const(0)
MAC_MISMATCH = const(1)
STALE_FRESHNESS = const(2)
MALFORMED_LENGTH = const(3)
UNKNOWN_DATA_ID = const(4)
NO_KEY = const(5)
FRESHNESS_UNAVAILABLE = const(6)
REASONS = ("ok", "mac_mismatch", "stale_freshness", "malformed_length",
           "unknown_data_id", "no_key", "freshness_unavailable")

# (complete FV bits, transmitted FV bits, transmitted MAC bits)
PROFILES = {
    1: (8, 8, 24),  # 24Bit-CMAC-8Bit-FV
    2: (0, 0, 24),  # 24Bit-CMAC-No-FV
    3: (64, 4, 28),  # JASPAR
}

_SMALL_FV = const(0x3FFFFFFF)  # fits a viper int on a 32-bit MCU
_len = len  # MicroPython finds a module global faster than a builtin


class PduLayout:
    # The static description of one secured PDU, shared by its sender and
    # receivers. Bad settings are the caller's mistake: ValueError.
    def __init__(self, data_id, payload_len, fv_bits, tx_fv_bits, mac_bits,
                 header_bits=0, fd=False, pad=0x00):
        if not 0 <= data_id <= 0xFFFF:
            raise ValueError("Data ID is 16 bits")
        if not 0 <= tx_fv_bits <= fv_bits <= 64:
            raise ValueError("need 0 <= truncated FV bits <= FV bits <= 64")
        if not 1 <= mac_bits <= 128:
            raise ValueError("MAC bits must be 1..128")
        if header_bits not in (0, 8, 16):
            raise ValueError("length header is 0, 8 or 16 bits")
        self.data_id = data_id
        self.payload_len = payload_len
        self.fv_bits = fv_bits
        self.fv_bytes = (fv_bits + 7) >> 3
        self.tx_fv_bits = tx_fv_bits
        self.mac_bits = mac_bits
        self.header_len = header_bits >> 3
        self.fd = fd
        self.pad = pad
        self.auth_len = (tx_fv_bits + mac_bits + 7) >> 3
        self.max_len = frame_length(self.secured_len(payload_len), fd)
        if self.max_len < 0:
            raise ValueError("secured PDU of %d bytes does not fit a %s frame"
                             % (self.secured_len(payload_len), "CAN FD" if fd else "classic CAN"))

    def secured_len(self, plen):
        return self.header_len + plen + self.auth_len


def layout_for_profile(profile, data_id, payload_len, fv_bits=None, fd=False, header_bits=0):
    full, tx, mac = PROFILES[profile]
    if fv_bits is not None:
        full = fv_bits
        tx = min(tx, full)
    return PduLayout(data_id, payload_len, full, tx, mac, header_bits, fd)


class _Endpoint:
    def __init__(self, layout, fvm):
        if layout.fv_bits and (fvm is None or fvm.fv_bits != layout.fv_bits
                               or fvm.tx_bits != layout.tx_fv_bits):
            raise ValueError("freshness manager does not match the PDU layout")
        self.layout = layout
        self.fvm = fvm
        self.key = None  # a keyagent.crypto.cmac.Cmac, installed by the key manager
        # The state buffer that keyagent.secoc.frame_mac works on (layout there).
        st = self._st = bytearray(112)
        st[0] = layout.data_id >> 8
        st[1] = layout.data_id & 0xFF
        st[2] = layout.fv_bytes
        st[3] = layout.tx_fv_bits
        st[4] = layout.mac_bits
        st[5] = layout.header_len
        st[6] = 1 if layout.fd else 0
        st[7] = layout.pad
        st[8] = layout.fv_bits
        st[9] = layout.payload_len
        self._x = memoryview(st)[96:112]
        # The viper function takes machine-word FVs; wider values (and
        # truncated FVs wider than a small int) go the plain way.
        impl = frame_mac_fast if layout.tx_fv_bits <= 30 else frame_mac
        self._mac = impl.mac_frame
        self._read_bits = impl.read_bits


class SecOCTx(_Endpoint):
    def protect(self, payload, plen, out):
        # Writes the secured frame for payload[0:plen] into out. Returns its
        # length, or minus a reason code (NO_KEY, FRESHNESS_UNAVAILABLE).
        key = self.key
        fvm = self.fvm
        if key is not None and fvm is not None:
            # The common case in one call: a counter's next value, below 2**30.
            n = self._mac(key.enc, key.sub, self._st, self._x, fvm.tx_next, payload, plen, -1, out)
            if n:
                return n
        if key is None:
            return -NO_KEY
        if not 0 <= plen <= self.layout.payload_len:
            raise ValueError("payload longer than the PDU's authentic length")
        fv = 0
        if fvm is not None:
            fv = fvm.next_tx()
            if fv < 0:
                return -FRESHNESS_UNAVAILABLE
        mac = self._mac if fv <= _SMALL_FV else frame_mac.mac_frame
        n = mac(key.enc, key.sub, self._st, self._x, None, payload, plen, fv, out)
        if fvm is not None and fvm.custom_wire:
            # A layout whose truncated FV is not the value's low bits.
            put_bits(out, (self.layout.header_len + plen) << 3, fvm.truncated(fv), self.layout.tx_fv_bits)
        return n


class SecOCRx(_Endpoint):
    # A receiver holds up to two keys, each with its own freshness state:
    # key/fvm, tried first, and alt_key/alt_fvm: the next epoch's key before
    # it is activated, or the previous one during the grace period after.
    def __init__(self, layout, fvm):
        super().__init__(layout, fvm)
        self.alt_key = None
        self.alt_fvm = None
        self.used_alt = False  # the last OK frame verified with alt_key
        self.fv = 0  # complete FV of the last OK frame
        self.failures = bytearray(len(REASONS))  # per reason, saturating at 255
        self.last_reason = OK
        # The authentic PDU of the last OK frame is
        # frame[payload_off:payload_off + payload_len].
        self.payload_off = layout.header_len
        self.payload_len = layout.payload_len
        # Without a length header every frame has one length.
        self._fixed_n = -1 if layout.header_len else frame_length(layout.secured_len(layout.payload_len), layout.fd)

    def swap_keys(self):
        # The switch to the next epoch: alt becomes current and the old
        # current stays as alt for the grace period.
        self.key, self.alt_key = self.alt_key, self.key
        self.fvm, self.alt_fvm = self.alt_fvm, self.fvm

    def verify(self, frame, n):
        # Returns OK, with the authentic PDU at frame[payload_off:][:payload_len],
        # or a rejection reason, counted in failures.
        if n == self._fixed_n and n <= _len(frame):
            # The common case, kept lean: the first freshness candidate under
            # the current key. Everything else goes the general way.
            key = self.key
            fvm = self.fvm
            if key is not None and fvm is not None:
                # payload_off and payload_len are 0 and the layout's length.
                fv = self._mac(key.enc, key.sub, self._st, self._x, fvm.rx_min,
                               frame, self.payload_len, -1, None)
                if fv:  # verified and accepted: the counter has moved on
                    self.fv = fv
                    # On MicroPython an attribute store costs about twice a load.
                    if self.used_alt:
                        self.used_alt = False
                    if self.last_reason:
                        self.last_reason = OK
                    return OK
        reason = self._verify(frame, n)
        self.last_reason = reason
        if reason and self.failures[reason] < 255:
            self.failures[reason] += 1
        return reason

    def _verify(self, frame, n):
        lay = self.layout
        h = lay.header_len
        plen = lay.payload_len
        if n > len(frame):
            return MALFORMED_LENGTH
        if h:
            if n < h:
                return MALFORMED_LENGTH
            plen = frame[0] if h == 1 else (frame[0] << 8) | frame[1]
            if plen > lay.payload_len:
                return MALFORMED_LENGTH
        if n != frame_length(lay.secured_len(plen), lay.fd):
            return MALFORMED_LENGTH
        if self.key is None and self.alt_key is None:
            return NO_KEY
        reason = self._verify_with(self.key, self.fvm, frame, h, plen)
        if reason != OK and self.alt_key is not None:
            alt = self._verify_with(self.alt_key, self.alt_fvm, frame, h, plen)
            if alt == OK:
                self.used_alt = True
                return OK
            if alt == STALE_FRESHNESS:
                reason = alt  # a replay under the other key says more
        elif reason == OK:
            self.used_alt = False
        return reason

    def _verify_with(self, key, fvm, frame, h, plen):
        if key is None:
            return NO_KEY
        if fvm is None:
            return self._try(key, frame, h, plen, 0)
        trunc = self._read_bits(frame, (h + plen) << 3, self.layout.tx_fv_bits)
        for attempt in range(fvm.attempts + 1):
            fv = fvm.candidate(trunc, attempt)
            if fv < 0:
                break
            if self._try(key, frame, h, plen, fv) == OK:
                fvm.accept(fv)
                return OK
        if not fvm.ready():
            return FRESHNESS_UNAVAILABLE  # e.g. no sync message yet
        if fvm.tx_bits == fvm.fv_bits and fvm.candidate(trunc, 0) < 0:
            return STALE_FRESHNESS  # the complete FV came with it: no newer
        # Would it verify with a value already used? Then it is a replay.
        for k in range(fvm.attempts + 1):
            fv = fvm.stale(trunc, k)
            if fv < 0:
                break
            if self._try(key, frame, h, plen, fv) == OK:
                return STALE_FRESHNESS
        return MAC_MISMATCH

    def _try(self, key, frame, h, plen, fv):
        mac = self._mac if fv <= _SMALL_FV else frame_mac.mac_frame
        if not mac(key.enc, key.sub, self._st, self._x, None, frame, plen, fv, None):
            return MAC_MISMATCH
        self.payload_off = h
        self.payload_len = plen
        self.fv = fv
        return OK

frame_mac_fast = frame_mac
if features.NATIVE:
    try:
        from keyagent.secoc import frame_mac_viper as frame_mac_fast  # noqa: F811
    except (ImportError, SyntaxError, NameError):
        pass  # CPython, or no viper emitter
