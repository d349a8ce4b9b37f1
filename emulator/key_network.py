# A QKD key network: KMEs joined by emulated QKD links (one ModulePair with
# the decoy-BB84 model of emulator.qkd_link per link), relaying keys across
# trusted nodes.
#
# A master SAE asks its KME for a key to share with a slave SAE. If both are
# served by the same KME, the KME draws the key itself. Otherwise the source
# KME draws key K and sends it along a path of links to the slave's KME: on
# each hop u -> v, u takes a fresh key P (a one-time pad, as long as K) from
# the u-v link's pool, sends (ID of P, K xor P) over the classical channel;
# v takes P by its ID from its own end of the link and recovers K. K is in
# clear only inside the KMEs (the trusted nodes), never on a link. Each pad is
# used once and is bound to the relay (qkd_pair binding RELAY), so no SAE can
# fetch it.
#
# The path: fewest km among links that are up (no alarm, not down) and hold
# enough key for the request; a hop in alarm is routed around when another
# path exists, else the request fails with NoQkdConnection (InsufficientKey
# when paths exist but their pools are short). The slave's KME keeps K under
# its key ID for that (master, slave) pair only.
#
# transcript: what crossed the links, (u, v, pad ID, K xor P), for the trust
# model's tests; never a key in clear.
import heapq
import random
import secrets
import threading
from collections import OrderedDict, deque

from emulator import qkd_errors as err
from emulator.qkd_link import LinkParams
from emulator.qkd_pair import KEY_ID_BYTES, LINK_UP, ModulePair

RELAY = ("relay",)  # pool label of the hop keys used as one-time pads
FIBRE_S_PER_KM = 5e-6  # light in glass: about 200 000 km/s
HOP_PROCESSING_S = 0.002  # per hop: pad lookup, XOR, an authenticated classical message
TRANSCRIPT_LEN = 1024
MAX_KEYS_PER_REQUEST = 128


def xor(a, b):
    if len(a) != len(b):
        raise ValueError("a one-time pad must be as long as the key")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class KeyNetwork:
    """The network of a checked spec (emulator.key_network_spec). clock:
    None for virtual time (advance()), or e.g. time.monotonic."""

    def __init__(self, spec, clock=None):
        self.spec = spec
        self.key_size = spec["key_size"]
        self.max_keys = spec["max_keys"]
        self.kmes = [k["name"] for k in spec["kme"]]
        self.kme_of = dict((sae, k["name"]) for k in spec["kme"] for sae in k["saes"])
        seed = spec["seed"]
        self._rng = random.Random(seed) if seed is not None else None
        self.links = {}
        self.km = {}
        for i, x in enumerate(spec["link"]):
            a, b = x["between"]
            params = LinkParams(km=x["km"], loss_db_per_km=x["loss_db_per_km"],
                                eavesdrop_fraction=x["eavesdrop"], pulse_rate_hz=x["pulse_rate_hz"],
                                detector_efficiency=x["detector_efficiency"])
            pair = ModulePair(params, max_key_count=self.max_keys, key_size=self.key_size,
                              max_key_size=max(8192, self.key_size), sides=(a, b), clock=clock,
                              seed=None if seed is None else seed * 1000 + i)
            if spec["prefill"]:
                pair.fill()
            self.links[frozenset((a, b))] = pair
            self.km[frozenset((a, b))] = x["km"]
        # Keys waiting for their slave SAE: kme -> (master, slave) -> {key ID: key}.
        self._stores = dict((k, {}) for k in self.kmes)
        self.transcript = deque(maxlen=TRANSCRIPT_LEN)
        self.counters = {"keys_issued": 0, "keys_relayed": 0, "keys_fetched": 0, "hops": 0,
                         "refused": 0, "expired": 0}
        self._lock = threading.Lock()

    def link(self, a, b):
        return self.links[frozenset((a, b))]

    def advance(self, now_s):
        for pair in self.links.values():
            pair.advance(now_s)

    def set_eavesdrop(self, a, b, fraction):
        self.link(a, b).set_eavesdrop(fraction)

    # -- routing ---------------------------------------------------------------

    def path(self, src, dst, bits=0):
        """The KMEs from src to dst over usable links holding `bits` of key,
        fewest km first; None if there is none."""
        best = {src: 0.0}
        before = {}
        todo = [(0.0, src)]
        while todo:
            dist, u = heapq.heappop(todo)
            if u == dst:
                hops = [dst]
                while hops[-1] != src:
                    hops.append(before[hops[-1]])
                return hops[::-1]
            if dist > best[u]:
                continue
            for ends, pair in self.links.items():
                if u not in ends:
                    continue
                v = next(iter(ends - {u}))
                st = pair.status(u)
                if st["link_state"] != LINK_UP or st["stored_key_count"] * st["key_size"] < bits:
                    continue
                d = dist + self.km[ends]
                if d < best.get(v, float("inf")):
                    best[v] = d
                    before[v] = u
                    heapq.heappush(todo, (d, v))
        return None

    def latency_s(self, path):
        """Modelled relay latency along `path`: fibre delay plus per-hop processing."""
        return sum(self.km[frozenset(h)] * FIBRE_S_PER_KM + HOP_PROCESSING_S for h in zip(path, path[1:]))

    # -- keys ------------------------------------------------------------------

    def issue(self, master, slave, count, size_bits=None):
        """`count` keys for master and slave SAE, all or none: ([(key_id,
        key), ...], path). The slave's KME holds them until fetch()."""
        size_bits = self.key_size if size_bits is None else size_bits
        if not isinstance(size_bits, int) or size_bits % 8 or not 64 <= size_bits <= 8192:
            raise err.KeySizeNotSupported("key size must be a multiple of 8 within 64..8192 bits")
        if not 1 <= count <= MAX_KEYS_PER_REQUEST:
            raise err.QosNotMet("number of keys must be within 1..%d" % MAX_KEYS_PER_REQUEST)
        src, dst = self.kme_of[master], self.kme_of[slave]
        with self._lock:
            path = [src] if src == dst else self._route(src, dst, count * size_bits)
            keys = [(self._new_id(), self._random(size_bits // 8)) for _ in range(count)]
            store = self._stores[dst].setdefault((master, slave), OrderedDict())
            for key_id, key in keys:
                store[key_id] = self.relay(path, key)
                if len(path) > 1:
                    self.counters["keys_relayed"] += 1
            while len(store) > self.max_keys:
                store.popitem(last=False)
                self.counters["expired"] += 1
            self.counters["keys_issued"] += count
            return keys, path

    def relay(self, path, key):
        """Carry `key` along `path` one-time-padded hop by hop; returns the
        key as the last KME recovers it."""
        for u, v in zip(path, path[1:]):
            pair = self.link(u, v)
            [(pad_id, pad)] = pair.take_new_keys(u, 1, len(key) * 8, RELAY)
            wire = xor(key, pad)
            self.transcript.append((u, v, pad_id, wire))
            key = xor(wire, pair.take_keys_by_id(v, [pad_id], RELAY)[0])
            self.counters["hops"] += 1
        return key

    def fetch(self, master, slave, key_ids):
        """The keys under key_ids issued for (master, slave), once, all or
        none (KeyNotFound otherwise: another pair's key looks unknown)."""
        with self._lock:
            store = self._stores[self.kme_of[slave]].get((master, slave), {})
            ids = [bytes(k) for k in key_ids]
            if len(set(ids)) != len(ids) or not all(k in store for k in ids):
                self.counters["refused"] += 1
                raise err.KeyNotFound("no key for this SAE pair under that key ID")
            self.counters["keys_fetched"] += len(ids)
            return [store.pop(k) for k in ids]

    def _route(self, src, dst, bits):
        if self.path(src, dst) is None:
            self.counters["refused"] += 1
            raise err.NoQkdConnection("no path from %s to %s without a link down or in alarm" % (src, dst))
        path = self.path(src, dst, bits)
        if path is None:
            self.counters["refused"] += 1
            raise err.InsufficientKey("every path from %s to %s is short of key" % (src, dst))
        return path

    def _random(self, n):
        return self._rng.randbytes(n) if self._rng is not None else secrets.token_bytes(n)

    def _new_id(self):
        raw = bytearray(self._random(KEY_ID_BYTES))
        raw[6] = (raw[6] & 0x0F) | 0x40  # UUID version 4, RFC 4122 variant: ETSI 014 key_ID
        raw[8] = (raw[8] & 0x3F) | 0x80
        return bytes(raw)
