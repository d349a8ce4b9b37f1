# The key network description (TOML): which KMEs exist, which SAEs each one
# serves, and the QKD links that join them.
#
#   seed = 1                 # optional: reproducible keys (tests only)
#   key_size = 256           # default key size in bits
#   max_keys = 2000          # capacity of each link's pool, in keys of key_size
#   prefill = true           # links start with a full pool
#   [[kme]]  name, saes = [...]
#   [[link]] between = [KME, KME], km, loss_db_per_km (0.2), eavesdrop (0.0),
#            pulse_rate_hz (1e8), detector_efficiency (0.10)
#
# Errors are NetworkSpecError with one line saying what is wrong.
from emulator import tomlfile
from emulator.certs import check_sae_id

_TOP = {"seed": None, "key_size": 256, "max_keys": 2000, "prefill": True, "kme": [], "link": []}
_LINK = {"between": None, "km": None, "loss_db_per_km": 0.2, "eavesdrop": 0.0,
         "pulse_rate_hz": 100e6, "detector_efficiency": 0.10}


class NetworkSpecError(ValueError):
    """A network description that cannot be run, with the reason in one line."""


def load(path):
    return check(tomlfile.read(path, NetworkSpecError))


def check(data):
    """The checked description: a dict with every key of _TOP, kme entries
    {"name", "saes"} and link entries with every key of _LINK."""
    _no_unknown(data, _TOP, "network")
    spec = dict(_TOP)
    spec.update(data)
    for name in ("key_size", "max_keys"):
        if not _is_int(spec[name]) or spec[name] < 1:
            raise NetworkSpecError("%s must be a positive integer" % name)
    if spec["key_size"] % 8:
        raise NetworkSpecError("key_size must be a multiple of 8")
    if spec["seed"] is not None and not _is_int(spec["seed"]):
        raise NetworkSpecError("seed must be an integer")
    if not isinstance(spec["prefill"], bool):
        raise NetworkSpecError("prefill must be true or false")
    spec["kme"] = [_kme(k) for k in _tables(spec["kme"], "kme")]
    names = [k["name"] for k in spec["kme"]]
    if len(set(names)) != len(names):
        raise NetworkSpecError("KME names must differ")
    saes = [s for k in spec["kme"] for s in k["saes"]]
    if len(set(saes)) != len(saes):
        raise NetworkSpecError("each SAE is served by one KME only")
    if set(names) & set(saes):
        raise NetworkSpecError("an SAE may not share its name with a KME")
    spec["link"] = [_link(x, names) for x in _tables(spec["link"], "link")]
    pairs = [frozenset(x["between"]) for x in spec["link"]]
    if len(set(pairs)) != len(pairs):
        raise NetworkSpecError("two links join the same KMEs")
    return spec


def _tables(value, what):
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise NetworkSpecError("[[%s]] must be tables" % what)
    return value


def _kme(entry):
    _no_unknown(entry, {"name": None, "saes": None}, "kme")
    name = entry.get("name")
    try:
        check_sae_id(name)  # same rules: it becomes a file and host name
    except ValueError:
        raise NetworkSpecError("kme name must be 1-64 letters, digits, '_', '.' or '-': %r" % (name,)) from None
    saes = entry.get("saes", [])
    if not isinstance(saes, list):
        raise NetworkSpecError("kme %s: saes must be a list of SAE IDs" % name)
    for sae in saes:
        try:
            check_sae_id(sae)
        except ValueError as e:
            raise NetworkSpecError("kme %s: %s" % (name, e)) from None
    return {"name": name, "saes": list(saes)}


def _link(entry, names):
    _no_unknown(entry, _LINK, "link")
    link = dict(_LINK)
    link.update(entry)
    ends = link["between"]
    if not isinstance(ends, list) or len(ends) != 2 or ends[0] == ends[1] \
            or not all(e in names for e in ends):
        raise NetworkSpecError("link between must name two different KMEs, not %r" % (ends,))
    for name in ("km", "loss_db_per_km", "eavesdrop", "pulse_rate_hz", "detector_efficiency"):
        value = link[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise NetworkSpecError("link %s-%s: %s must be a number >= 0" % (ends[0], ends[1], name))
        link[name] = float(value)
    if link["eavesdrop"] > 1 or link["detector_efficiency"] > 1:
        raise NetworkSpecError("link %s-%s: eavesdrop and detector_efficiency are within 0..1" % tuple(ends))
    return link


def _no_unknown(entry, known, what):
    unknown = set(entry) - set(known)
    if unknown:
        raise NetworkSpecError("unknown %s keys: %s" % (what, ", ".join(sorted(unknown))))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)
