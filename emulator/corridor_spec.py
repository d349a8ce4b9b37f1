# The corridor description (TOML): a key network, roadside units along a
# road, vehicles that stock keys at the depot and drive past them, and an
# eavesdropper on backbone hops.
#
#   name, seed (1), duration_s (default: until the last vehicle passes the last RSU)
#   [stock]      per_rsu (keys a vehicle stocks for each RSU, 4), low_water (1), capacity (64)
#   [session]    every_s (a new session every so often while in range, 2.0), messages (2)
#   [network]    a key network description (emulator.key_network_spec): kme, link, ...
#   [[rsu]]      name (an SAE of the network), km (position along the road), range_m (300)
#   [[vehicle]]  name (an SAE of the depot's KME), stock_s (0), depart_s, speed_kmh
#   [[eavesdrop]] between = [KME, KME], at_s (0), duration_s (to the end), fraction
from emulator import key_network_spec, tomlfile
from emulator.key_network_spec import NetworkSpecError

_TOP = ("name", "seed", "duration_s", "stock", "session", "network", "rsu", "vehicle", "eavesdrop")
_STOCK = {"per_rsu": 4, "low_water": 1, "capacity": 64}
_SESSION = {"every_s": 2.0, "messages": 2}


class CorridorError(ValueError):
    """A corridor file that cannot be run, with the reason in one line."""


def load(path):
    return check(tomlfile.read(path, CorridorError))


def check(data):
    _known(data, _TOP, "corridor")
    c = {"name": data.get("name", "corridor"), "seed": data.get("seed", 1), "duration_s": data.get("duration_s")}
    if not isinstance(c["name"], str) or not _is_int(c["seed"]):
        raise CorridorError("name must be text and seed an integer")
    c["stock"] = _section(data.get("stock", {}), _STOCK, "stock", int)
    c["session"] = _section(data.get("session", {}), _SESSION, "session", float)
    c["session"]["messages"] = int(c["session"]["messages"])
    if c["session"]["every_s"] <= 0:
        raise CorridorError("session.every_s must be > 0")
    if c["stock"]["low_water"] > c["stock"]["capacity"] or c["stock"]["capacity"] < 1:
        raise CorridorError("stock.capacity must be >= 1 and >= stock.low_water")
    net = dict(data.get("network", {})) if isinstance(data.get("network", {}), dict) else None
    if net is None:
        raise CorridorError("[network] must be a table")
    net.setdefault("seed", c["seed"])
    try:
        c["network"] = key_network_spec.check(net)
    except NetworkSpecError as e:
        raise CorridorError("network: %s" % e) from None
    kme_of = dict((s, k["name"]) for k in c["network"]["kme"] for s in k["saes"])
    c["rsu"] = [_rsu(r, kme_of) for r in _tables(data.get("rsu", []), "rsu")]
    c["vehicle"] = [_vehicle(v, kme_of) for v in _tables(data.get("vehicle", []), "vehicle")]
    if not c["rsu"] or not c["vehicle"]:
        raise CorridorError("a corridor needs at least one [[rsu]] and one [[vehicle]]")
    depots = {kme_of[v["name"]] for v in c["vehicle"]}
    if len(depots) != 1:
        raise CorridorError("every vehicle must be an SAE of the same KME (the depot)")
    c["depot"] = depots.pop()
    links = {frozenset(x["between"]) for x in c["network"]["link"]}
    c["eavesdrop"] = [_eavesdrop(e, links) for e in _tables(data.get("eavesdrop", []), "eavesdrop")]
    if c["duration_s"] is None:
        c["duration_s"] = max(v["depart_s"] + (max(r["km"] for r in c["rsu"]) + 1.0) / v["speed_kmh"] * 3600
                              for v in c["vehicle"])
    elif not _is_num(c["duration_s"]) or c["duration_s"] <= 0:
        raise CorridorError("duration_s must be a number > 0")
    return c


def _rsu(entry, kme_of):
    _known(entry, ("name", "km", "range_m"), "rsu")
    name = entry.get("name")
    if name not in kme_of:
        raise CorridorError("rsu %r is not an SAE of the network" % (name,))
    r = {"name": name, "km": entry.get("km"), "range_m": entry.get("range_m", 300.0)}
    if not _is_num(r["km"]) or r["km"] < 0 or not _is_num(r["range_m"]) or r["range_m"] <= 0:
        raise CorridorError("rsu %s: km must be >= 0 and range_m > 0" % name)
    return r


def _vehicle(entry, kme_of):
    _known(entry, ("name", "stock_s", "depart_s", "speed_kmh"), "vehicle")
    name = entry.get("name")
    if name not in kme_of:
        raise CorridorError("vehicle %r is not an SAE of the network" % (name,))
    v = {"name": name, "stock_s": entry.get("stock_s", 0.0), "depart_s": entry.get("depart_s"),
         "speed_kmh": entry.get("speed_kmh")}
    if not all(_is_num(v[k]) and v[k] >= 0 for k in ("stock_s", "depart_s", "speed_kmh")) \
            or v["speed_kmh"] <= 0 or v["stock_s"] > v["depart_s"]:
        raise CorridorError("vehicle %s: needs 0 <= stock_s <= depart_s and speed_kmh > 0" % name)
    return v


def _eavesdrop(entry, links):
    _known(entry, ("between", "at_s", "duration_s", "fraction"), "eavesdrop")
    e = {"between": entry.get("between"), "at_s": entry.get("at_s", 0.0),
         "duration_s": entry.get("duration_s"), "fraction": entry.get("fraction")}
    if not isinstance(e["between"], list) or frozenset(e["between"]) not in links:
        raise CorridorError("eavesdrop between must name the two KMEs of a link, not %r" % (e["between"],))
    if not _is_num(e["fraction"]) or not 0 < e["fraction"] <= 1 or not _is_num(e["at_s"]) \
            or (e["duration_s"] is not None and not (_is_num(e["duration_s"]) and e["duration_s"] > 0)):
        raise CorridorError("eavesdrop: fraction within 0..1, at_s a number, duration_s > 0")
    return e


def _section(value, defaults, what, kind):
    if not isinstance(value, dict):
        raise CorridorError("[%s] must be a table" % what)
    _known(value, defaults, what)
    out = dict(defaults)
    out.update(value)
    for name, v in out.items():
        if not (_is_int(v) if kind is int else _is_num(v)) or v < 0:
            raise CorridorError("%s.%s must be a %s >= 0" % (what, name, "whole number" if kind is int else "number"))
    return out


def _tables(value, what):
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CorridorError("[[%s]] must be tables" % what)
    return value


def _known(entry, known, what):
    unknown = set(entry) - set(known)
    if unknown:
        raise CorridorError("unknown %s keys: %s" % (what, ", ".join(sorted(unknown))))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)
