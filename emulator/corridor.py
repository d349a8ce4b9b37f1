# A corridor run in virtual time: vehicles stock QKD keys at the depot (the
# key network relays each key to the roadside unit's KME, one-time-padded
# hop by hop), drive along the road, and make V2I sessions with every
# roadside unit (RSU) they pass: a key taken from the gateway's stock
# (keyagent.keystore), the hybrid QKD + ML-KEM-768 handshake of emulator.v2i
# with the RSU fetching the key from its KME, then sealed messages. An
# eavesdropper on a backbone hop raises that link's QBER into alarm: the
# relay routes around it, or refuses, and those vehicles meet that RSU
# without a key.
#
# run(spec) -> Corridor with .report() (JSON-ready) and the timelines the
# plot draws. Counts are deterministic for a spec and seed (ML-KEM draws its
# own randomness, which changes no count).
import heapq

from emulator import qkd_errors as err
from emulator import v2i
from emulator.key_network import KeyNetwork
from keyagent.keystore.store import KeyStore

_EAVESDROP, _STOCK, _SESSION = 0, 1, 2  # event kinds; at one time, in this order


class Corridor:
    def __init__(self, spec):
        self.spec = spec
        self.net = KeyNetwork(spec["network"])
        self.rsus = dict((r["name"], r) for r in spec["rsu"])
        self.stores = {}
        self.stock_refused = {}  # vehicle -> {rsu: "alarm" | "short"}
        self.stocked = {}
        self.sessions = []  # (t, vehicle, rsu, km, outcome: "made" | refusal reason)
        self.stock_levels = dict((v["name"], []) for v in spec["vehicle"])  # (t, keys left)
        self.latency_s = dict((r, []) for r in self.rsus)
        self.events = []  # (t, vehicle, event) from the key stores
        self.roadside = dict((name, v2i.RoadsideHandshakes(self._kme_fetch(name))) for name in self.rsus)
        self.messages = 0

    def run(self):
        for t, kind, args in self._schedule():
            if t > self.spec["duration_s"]:
                break
            self.net.advance(t)
            if kind == _STOCK:
                self._stock(t, args)
            elif kind == _EAVESDROP:
                self.net.set_eavesdrop(args[0], args[1], args[2])
            else:
                self._meet(t, args[0], args[1])
        return self

    # -- the schedule -----------------------------------------------------------------

    def _schedule(self):
        todo = []
        for v in self.spec["vehicle"]:
            todo.append((v["stock_s"], _STOCK, v["name"]))
            for r in self.spec["rsu"]:
                speed = v["speed_kmh"] / 3600.0  # km/s
                t_in = v["depart_s"] + max(0.0, r["km"] - r["range_m"] / 1000.0) / speed
                t_out = v["depart_s"] + (r["km"] + r["range_m"] / 1000.0) / speed
                t = t_in
                while t < t_out:
                    todo.append((t, _SESSION, (v["name"], r["name"])))
                    t += self.spec["session"]["every_s"]
        for e in self.spec["eavesdrop"]:
            a, b = e["between"]
            todo.append((e["at_s"], _EAVESDROP, (a, b, e["fraction"])))
            if e["duration_s"] is not None:
                todo.append((e["at_s"] + e["duration_s"], _EAVESDROP, (a, b, 0.0)))
        heapq.heapify(todo)
        while todo:
            yield heapq.heappop(todo)

    # -- at the depot ------------------------------------------------------------------

    def _stock(self, t, vehicle):
        st = self.spec["stock"]
        store = self.stores[vehicle] = KeyStore(_device_key(vehicle), st["capacity"], st["low_water"])
        refused = self.stock_refused[vehicle] = {}
        for rsu in self.rsus:
            try:
                keys, path = self.net.issue(vehicle, rsu, st["per_rsu"])
            except err.NoQkdConnection:
                refused[rsu] = "alarm"
                continue
            except err.InsufficientKey:
                refused[rsu] = "short"
                continue
            self.latency_s[rsu].append(self.net.latency_s(path))
            for key_id, key in keys:
                if not store.add(rsu, key_id, key):
                    refused[rsu] = "store_full"
                    break
        self.stocked[vehicle] = store.count()
        self.stock_levels[vehicle].append((t, store.count()))

    # -- on the road -------------------------------------------------------------------

    def _meet(self, t, vehicle, rsu):
        store = self.stores.get(vehicle)
        km = self.rsus[rsu]["km"]
        taken = store.take(rsu) if store is not None else None
        if taken is None:
            reason = self.stock_refused.get(vehicle, {}).get(rsu, "no_key")
            self.sessions.append((t, vehicle, rsu, km, "alarm" if reason == "alarm" else "no_key"))
            return
        self.stock_levels[vehicle].append((t, store.count()))
        event = store.pop_event()
        while event is not None:
            self.events.append((t, vehicle, event))
            event = store.pop_event()
        key_id, key = taken
        car = v2i.VehicleHandshake(vehicle, key_id, key)
        for i in range(len(key)):
            key[i] = 0
        reply, rsu_session = self.roadside[rsu].on_hello(car.hello())
        try:
            session = car.on_reply(reply)
        except v2i.V2IError as e:
            self.sessions.append((t, vehicle, rsu, km, e.reason))
            return
        for i in range(self.spec["session"]["messages"]):
            answer = rsu_session.open(session.seal(b"CAM %s %d" % (vehicle.encode(), i)))
            session.open(rsu_session.seal(b"ack " + answer))
            self.messages += 1
        self.sessions.append((t, vehicle, rsu, km, "made"))

    def _kme_fetch(self, rsu):
        def fetch(vehicle, key_id):
            try:
                return self.net.fetch(vehicle, rsu, [key_id])[0]
            except (err.KeyNotFound, KeyError):
                return None
        return fetch

    # -- results -----------------------------------------------------------------------

    def report(self):
        made = [s for s in self.sessions if s[4] == "made"]
        refused = {}
        for s in self.sessions:
            if s[4] != "made":
                refused[s[4]] = refused.get(s[4], 0) + 1
        vehicles = {}
        for v in self.spec["vehicle"]:
            name = v["name"]
            mine = [s for s in self.sessions if s[1] == name]
            store = self.stores.get(name)
            vehicles[name] = {
                "stocked": self.stocked.get(name, 0),
                "consumed": store.counters["taken"] if store else 0,
                "left": store.count() if store else 0,
                "sessions_made": sum(1 for s in mine if s[4] == "made"),
                "sessions_refused": sum(1 for s in mine if s[4] != "made"),
                "stock_refused": dict(sorted(self.stock_refused.get(name, {}).items())),
                "low_stock_events": sum(1 for e in self.events if e[1] == name),
            }
        rsus = {}
        for name in self.rsus:
            mine = [s for s in self.sessions if s[2] == name]
            lat = self.latency_s[name]
            rsus[name] = {"sessions_made": sum(1 for s in mine if s[4] == "made"),
                          "sessions_refused": sum(1 for s in mine if s[4] != "made"),
                          "relay_latency_ms": round(1000 * max(lat), 3) if lat else None}
        lat = [x for values in self.latency_s.values() for x in values]
        c = self.net.counters
        return {
            "name": self.spec["name"], "seed": self.spec["seed"], "duration_s": round(self.spec["duration_s"], 3),
            "sessions": {"made": len(made), "refused": dict(sorted(refused.items())), "messages": self.messages},
            "vehicles": vehicles, "rsus": rsus,
            "relay": {"keys_relayed": c["keys_relayed"], "hops": c["hops"], "refused": c["refused"],
                      "latency_ms_mean": round(1000 * sum(lat) / len(lat), 3) if lat else None,
                      "latency_ms_max": round(1000 * max(lat), 3) if lat else None},
            "links": dict(("-".join(sorted(ends)), {"alarm": pair.status()["alarm"],
                                                     "qber": round(pair.status()["qber"], 4)})
                          for ends, pair in sorted(self.net.links.items(), key=lambda kv: sorted(kv[0]))),
        }


def _device_key(vehicle):
    # The emulated gateway's device key (a real one comes from the MCU's
    # key storage, never from its name).
    import hashlib

    return hashlib.sha256(b"qkd-secoc emulated device key " + vehicle.encode()).digest()[0:16]


def run(spec):
    return Corridor(spec).run()
