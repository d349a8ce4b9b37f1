# The emulated pair of QKD optical modules, ends 'A' and 'B', joined by the
# simulated quantum channel of emulator.qkd_link. Both modules hold the same
# secret key material: a pool that fills at the modelled secret key rate up
# to a maximum. One side (the master) asks for a new key and gets it with a
# fresh 16-byte key ID; the other side (the slave) then asks for that key by
# its ID (the key-ID addressing of ETSI GS QKD 014). Each key is handed out
# once per side, then forgotten.
#
# Time is virtual by default (advance(now_s) moves it; a seeded run is fully
# deterministic) or real when a clock function is given (every call first
# catches up with clock()). All public methods take the one lock, so the
# UART endpoints and the REST server can share a pair across threads.
#
# Every key is bound to the consumers it was issued for (`bound_to`: the
# UART ends, or one master/slave SAE pair of a REST server): a key drawn
# under one binding is unknown under every other, so a REST slave SAE cannot
# fetch by ID a key the vehicle's master ECU drew over the UART, even though
# the ANNOUNCE frame carries its ID in clear.
#
# Refusals raise the emulator.qkd_errors tree (ETSI GS QKD 004 status codes).
# Keys never appear in repr() or in status().
import random
import secrets
import threading
from collections import OrderedDict
from dataclasses import replace

from emulator import qkd_errors as err
from emulator.qkd_link import LinkParams, evaluate

SIDES = ("A", "B")
KEY_ID_BYTES = 16
# The binding of keys drawn over the modules' UART ends (the in-vehicle pool):
# the default, so the emulated ECUs need not name it. REST servers bind
# theirs to their SAE pair instead.
UART_ENDS = None

# Link states reported by status()["link_state"].
LINK_UP = "up"  # keys being distilled
LINK_NO_KEY_RATE = "no_key_rate"  # QBER fine but the fibre is too long for any key
LINK_ALARM = "alarm"  # QBER above the abort threshold: no keys issued
LINK_PEER_DISCONNECTED = "peer_disconnected"  # the modules cannot reach each other
LINK_UNPLUGGED = "unplugged"  # a module is unplugged


class ModulePair:
    """Two emulated QKD modules sharing one key pool.

    link: LinkParams (defaults: LinkParams()); max_key_count: pool capacity in
    keys of key_size bits; key sizes must be multiples of 8 within
    min_key_size..max_key_size; seed: makes key IDs and key bytes
    reproducible (for tests only: a seeded key is predictable); clock: a
    function returning seconds (e.g. time.monotonic) for real-time filling.
    sides: the modules on the link, 'A' (the master's) first; more than two
    model one master module serving several slave modules (a QKD network
    delivering each key to every slave), each taking a key once by its ID.
    """

    def __init__(self, link=None, *, max_key_count=1000, key_size=256, min_key_size=64,
                 max_key_size=8192, max_keys_per_request=128, seed=None, clock=None, sides=SIDES):
        if key_size % 8 or not min_key_size <= key_size <= max_key_size:
            raise ValueError("key_size must be a multiple of 8 within min_key_size..max_key_size")
        if min_key_size % 8 or max_key_size % 8 or min_key_size < 8:
            raise ValueError("min_key_size and max_key_size must be multiples of 8")
        if max_key_count < 1 or max_keys_per_request < 1:
            raise ValueError("max_key_count and max_keys_per_request must be >= 1")
        self.key_size = key_size
        self.min_key_size = min_key_size
        self.max_key_size = max_key_size
        self.max_key_count = max_key_count
        self.max_keys_per_request = max_keys_per_request
        self._lock = threading.Lock()
        self._rng = random.Random(seed) if seed is not None else None
        self._clock = clock
        self._now = clock() if clock is not None else 0.0
        self._fresh_bits = 0.0  # distilled key material not yet handed out
        # key_id -> [key bytes, set of sides still to receive it], oldest first.
        # Bounded by max_key_count: the oldest uncollected key expires.
        self._pending = OrderedDict()
        self.sides = tuple(sides)
        if len(self.sides) < 2 or len(set(self.sides)) != len(self.sides):
            raise ValueError("a QKD link has at least two distinct sides")
        self._unplugged = dict((side, False) for side in self.sides)
        self._peer_disconnected = False
        self.counters = {"keys_new": 0, "keys_by_id": 0, "keys_expired": 0, "refused": 0}
        self._set_link(link if link is not None else LinkParams())

    # -- configuration and fault injection --------------------------------

    @property
    def link(self):
        return self._link

    @property
    def report(self):
        """The LinkReport of the current link setting."""
        return self._report

    def set_link(self, params):
        """Change the physical link (fibre length, detectors, eavesdropper)."""
        with self._lock:
            self._sync()
            self._set_link(params)

    def set_eavesdrop(self, fraction):
        """Intercept-resend on `fraction` of the pulses (0 = the eavesdropper goes)."""
        with self._lock:
            self._sync()
            self._set_link(replace(self._link, eavesdrop_fraction=float(fraction)))

    def set_unplugged(self, side, unplugged=True):
        """Unplug (or plug back) the module on `side`: its calls fail with
        ModuleUnplugged, the other side gets PeerNotConnected for new keys,
        and no key is distilled meanwhile."""
        self._check_side(side)
        with self._lock:
            self._sync()
            self._unplugged[side] = bool(unplugged)

    def is_unplugged(self, side):
        self._check_side(side)
        return self._unplugged[side]

    def set_peer_disconnected(self, disconnected=True):
        """Cut (or restore) the connection between the two modules: both get
        PeerNotConnected, and no key is distilled meanwhile."""
        with self._lock:
            self._sync()
            self._peer_disconnected = bool(disconnected)

    # -- time ----------------------------------------------------------------

    def advance(self, now_s):
        """Move virtual time to now_s (seconds; never backwards), filling the
        pool at the modelled rate meanwhile."""
        with self._lock:
            if now_s < self._now:
                raise ValueError("time cannot go backwards (%r < %r)" % (now_s, self._now))
            self._fill_until(now_s)

    def fill(self):
        """Fill the pool to its maximum at once (tests, a warm start)."""
        with self._lock:
            self._sync()
            self._fresh_bits = float(self.max_key_count * self.key_size)

    @property
    def now(self):
        return self._now

    # -- keys ------------------------------------------------------------------

    def take_new_key(self, side, size_bits=None):
        """A new key for the master on `side` over the UART ends: (key_id:
        16 bytes, key bytes). The other side can then take the same key with
        take_key_by_id."""
        return self.take_new_keys(side, 1, size_bits)[0]

    def take_new_keys(self, side, count, size_bits=None, bound_to=UART_ENDS):
        """`count` new keys for `side`, all or none: [(key_id, key), ...].
        bound_to: the consumers the keys are for (any hashable label, e.g.
        ("rest", master_sae, slave_sae)); only take_keys_by_id with the same
        label finds them."""
        size_bits = self.key_size if size_bits is None else size_bits
        with self._lock:
            self._sync()
            try:
                self._check_can_issue(side)
                self._check_size(size_bits)
                if not 1 <= count <= self.max_keys_per_request:
                    raise err.QosNotMet("number of keys must be within 1..%d" % self.max_keys_per_request)
                if self._fresh_bits < count * size_bits:
                    raise err.InsufficientKey("%d keys of %d bits requested, %d bits stored"
                                              % (count, size_bits, int(self._fresh_bits)))
            except err.QkdError:
                self.counters["refused"] += 1
                raise
            self._fresh_bits -= count * size_bits
            out = []
            for _ in range(count):
                key_id = self._new_key_id()
                key = self._random_bytes(size_bits // 8)
                self._pending[key_id] = [key, self._others(side), bound_to]
                out.append((key_id, key))
            self.counters["keys_new"] += count
            while len(self._pending) > self.max_key_count:
                self._pending.popitem(last=False)
                self.counters["keys_expired"] += 1
            return out

    def take_key_by_id(self, side, key_id, bound_to=UART_ENDS):
        """The key its master took under `key_id`, for `side` (once)."""
        return self.take_keys_by_id(side, [key_id], bound_to)[0]

    def take_keys_by_id(self, side, key_ids, bound_to=UART_ENDS):
        """The keys under `key_ids` for `side`, all or none (KeyNotFound if
        any is unknown, repeated, already handed to this side, or issued
        under another `bound_to`: a foreign key looks like an unknown one)."""
        key_ids = [bytes(key_id) for key_id in key_ids]
        with self._lock:
            self._sync()
            try:
                self._check_can_issue(side, by_id=True)
                if not 1 <= len(key_ids) <= self.max_keys_per_request:
                    raise err.QosNotMet("number of key IDs must be within 1..%d" % self.max_keys_per_request)
                seen = set()
                for key_id in key_ids:
                    entry = self._pending.get(key_id)
                    if entry is None or side not in entry[1] or entry[2] != bound_to or key_id in seen:
                        raise err.KeyNotFound("no key for side %s under that key ID" % side)
                    seen.add(key_id)
            except err.QkdError:
                self.counters["refused"] += 1
                raise
            out = []
            for key_id in key_ids:
                entry = self._pending[key_id]
                entry[1].discard(side)
                if not entry[1]:
                    del self._pending[key_id]
                out.append(entry[0])
            self.counters["keys_by_id"] += len(out)
            return out

    def status(self, side=None):
        """The modules' STATUS: sizes, counts and link state (no keys), as
        seen from `side` ('A', 'B' or None for the pair)."""
        if side is not None:
            self._check_side(side)
        with self._lock:
            self._sync()
            report = self._report
            return {
                "key_size": self.key_size,
                "min_key_size": self.min_key_size,
                "max_key_size": self.max_key_size,
                "max_keys_per_request": self.max_keys_per_request,
                "stored_key_count": int(self._fresh_bits // self.key_size),
                "max_key_count": self.max_key_count,
                "pending_key_count": len(self._pending),
                "qber": report.qber,
                "secret_key_rate_bps": self._rate_bps(),
                "alarm": report.alarm,
                "link_state": self._link_state(side),
                "km": self._link.km,
                "eavesdrop_fraction": self._link.eavesdrop_fraction,
                "mu": report.mu,
                "time_s": self._now,
            }

    def __repr__(self):
        return "<ModulePair %s %.1f km, %d bits stored, %d keys pending>" % (
            self._link_state(None), self._link.km, int(self._fresh_bits), len(self._pending))

    # -- internals (called with the lock held) ----------------------------------

    def _set_link(self, params):
        self._report = evaluate(params)  # checks params first
        self._link = params

    def _sync(self):
        if self._clock is not None:
            now = self._clock()
            if now > self._now:
                self._fill_until(now)

    def _fill_until(self, now_s):
        rate = self._rate_bps()
        if rate > 0:
            cap = float(self.max_key_count * self.key_size)
            self._fresh_bits = min(cap, self._fresh_bits + rate * (now_s - self._now))
        self._now = now_s

    def _others(self, side):
        return set(self.sides) - {side}

    def _peers_gone(self, side):
        # Every module this side could share a key with is unplugged.
        return all(self._unplugged[o] for o in self._others(side))

    def _rate_bps(self):
        if any(self._unplugged.values()) or self._peer_disconnected:
            return 0.0
        return self._report.secret_key_rate_bps

    def _link_state(self, side):
        # Seen from `side` (None: from outside the pair).
        if side is not None and self._unplugged[side]:
            return LINK_UNPLUGGED
        if self._peer_disconnected or (side is not None and self._peers_gone(side)):
            return LINK_PEER_DISCONNECTED
        if any(self._unplugged.values()):
            return LINK_UNPLUGGED
        if self._report.alarm:
            return LINK_ALARM
        if self._report.secret_key_rate_bps <= 0:
            return LINK_NO_KEY_RATE
        return LINK_UP

    def _check_side(self, side):
        if side not in self.sides:
            raise ValueError("side must be one of %s, not %r" % (", ".join(self.sides), side))

    def _check_can_issue(self, side, by_id=False):
        self._check_side(side)
        if self._unplugged[side]:
            raise err.ModuleUnplugged("module %s is unplugged" % side)
        if self._peer_disconnected:
            raise err.PeerNotConnected("the modules cannot reach each other")
        if self._peers_gone(side) and not by_id:
            raise err.PeerNotConnected("the peer module is unplugged")
        if self._report.alarm:
            raise err.LinkAlarm("QBER %.3f above the abort threshold: eavesdropper?" % self._report.qber)

    def _check_size(self, size_bits):
        if not isinstance(size_bits, int) or size_bits % 8 \
                or not self.min_key_size <= size_bits <= self.max_key_size:
            raise err.KeySizeNotSupported("key size must be a multiple of 8 within %d..%d bits"
                                          % (self.min_key_size, self.max_key_size))

    def _random_bytes(self, n):
        if self._rng is not None:
            return self._rng.randbytes(n)
        return secrets.token_bytes(n)

    def _new_key_id(self):
        while True:
            raw = bytearray(self._random_bytes(KEY_ID_BYTES))
            raw[6] = (raw[6] & 0x0F) | 0x40  # a UUID version 4 ...
            raw[8] = (raw[8] & 0x3F) | 0x80  # ... RFC 4122 variant, for ETSI 014 key_ID
            key_id = bytes(raw)
            if key_id not in self._pending:
                return key_id
