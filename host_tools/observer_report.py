# What the SecOC observer (host_tools.secoc_observer) counts and how it is
# shown: per-message statistics, rekey events, the text table of `monitor`
# and `trace analyze`, and their JSON report. No key is ever formatted here.

# The verdicts of the OK, MAC and STALE columns, a sync message's beside a
# PDU's (keyagent.secoc.fv_sync.SYNC_REASONS); the rest is OTHER.
COLUMNS = (("ok",), ("mac_mismatch", "sync_mac_mismatch"), ("stale_freshness", "sync_stale"))


class MessageStats:
    __slots__ = ("can_id", "extended", "name", "secoc", "count", "verdicts", "first_t", "last_t",
                 "last_verdict", "epoch", "signals")

    def __init__(self, can_id, extended, name, secoc):
        self.can_id = can_id
        self.extended = extended
        self.name = name
        self.secoc = secoc  # a SecOC PDU of the configuration
        self.count = 0
        self.verdicts = {}
        self.first_t = None
        self.last_t = None
        self.last_verdict = None
        self.epoch = None  # epoch of the key that verified the last OK frame
        self.signals = None  # decoded signals of the last (verified) frame

    def add(self, t, verdict):
        self.count += 1
        if self.first_t is None:
            self.first_t = t
        self.last_t = t
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
        self.last_verdict = verdict

    def rate(self):
        """Mean frames per second over the span seen (0 below two frames)."""
        if self.count < 2 or self.last_t <= self.first_t:
            return 0.0
        return (self.count - 1) / (self.last_t - self.first_t)


class Event:
    __slots__ = ("t", "kind", "epoch", "node", "detail")

    def __init__(self, t, kind, epoch=None, node=None, detail=""):
        self.t = t  # seconds from the first frame
        self.kind = kind
        self.epoch = epoch
        self.node = node
        self.detail = detail

    def as_dict(self):
        d = {"t": round(self.t, 4), "event": self.kind}
        if self.epoch is not None:
            d["epoch"] = self.epoch
        if self.node is not None:
            d["node"] = self.node
        if self.detail:
            d["detail"] = self.detail
        return d

    def line(self):
        parts = ["%10.3f" % self.t, self.kind]
        if self.epoch is not None:
            parts.append("epoch %d" % self.epoch)
        if self.node is not None:
            parts.append("node %d" % self.node)
        if self.detail:
            parts.append("(%s)" % self.detail)
        return " ".join(parts)


_ROW = "%-8s %-16s %7s %8s %5s %6s %6s %6s %6s  %-18s %s"


def table(obs, max_events=None, width=None, all_ids=False, max_lines=None):
    """The observer's state as text: one row per CAN ID, the epoch line and
    the rekey events (the last max_events; rows cut to width characters).
    IDs that are in neither the configuration nor a DBC (the emulator's
    filler traffic, say) share one summary row unless all_ids. max_lines:
    fit that many lines (a terminal's height), dropping events first."""
    rows = [_ROW % ("ID", "NAME", "FRAMES", "RATE/s", "EPOCH", "OK", "MAC", "STALE", "OTHER", "LAST",
                    "SIGNALS")]
    other = []
    for key in sorted(obs.messages):
        st = obs.messages[key]
        if not all_ids and _unknown(st):
            other.append(st)
            continue
        rows.append(_row(st, width))
    if other:
        line = _ROW % ("%s-%s" % (_ident(other[0]), _ident(other[-1])), "(other %d IDs)" % len(other),
                       sum(st.count for st in other), "%.1f" % sum(st.rate() for st in other),
                       "-", "-", "-", "-", "-", "plain", "in no configuration or DBC (--all lists them)")
        rows.append((line if width is None else line[:width]).rstrip())
    rows.append(_epochs_line(obs.epochs))
    events = obs.events
    if max_lines is not None:
        room = max(0, max_lines - len(rows) - 1)
        max_events = room if max_events is None else min(max_events, room)
        if len(rows) + 1 > max_lines:  # not even the rows fit: keep the first ones
            cut = len(rows) - max(2, max_lines - 2)
            rows = rows[:-1 - cut] + ["... %d more rows" % cut, rows[-1]]
    if max_events is not None and len(events) > max_events:
        rows.append("rekey events (last %d of %d):" % (max_events, len(events)))
        events = events[len(events) - max_events:] if max_events else []
    else:
        rows.append("rekey events: %d" % len(events))
    rows.extend("  " + e.line() for e in events)
    return "\n".join(rows) + "\n"


def _epochs_line(ep):
    # Where the observer's epochs stand (host_tools.observer_epochs).
    if ep.current is None and ep.alt is None:
        return "epoch: none (no keys)"
    text = "epoch: current %s" % ("none" if ep.current is None else ep.current)
    if ep.alt_role == "pending":
        text += ", pending %d" % ep.alt
    elif ep.alt_role == "grace":
        text += ", previous %d until %.3f" % (ep.alt, ep.grace_until)
    elif ep.alt_role == "previous":
        text += ", previous %d" % ep.alt
    return text


def _unknown(st):
    # Neither a SecOC PDU of the configuration, nor named by a DBC, nor key management.
    return not st.secoc and not st.name and st.last_verdict == "plain"


def _ident(st):
    return ("%08X" if st.extended else "%03X") % st.can_id


def _row(st, width):
    if st.secoc:
        counts = [sum(st.verdicts.get(v, 0) for v in column) for column in COLUMNS]
        counts.append(st.count - sum(counts))
        counts = ["%d" % c for c in counts]
    else:
        counts = ["-"] * 4
    sig = " ".join("%s=%s" % (k, _fmt(v)) for k, v in (st.signals or {}).items())
    line = _ROW % (_ident(st), st.name[:16], st.count, "%.1f" % st.rate(),
                   "-" if st.epoch is None else st.epoch, counts[0], counts[1], counts[2], counts[3],
                   st.last_verdict, sig)
    return (line if width is None else line[:width]).rstrip()


def report(obs):
    """The observer's state as a JSON-able dict."""
    msgs = []
    for key in sorted(obs.messages):
        st = obs.messages[key]
        msgs.append({
            "id": st.can_id, "extended": st.extended, "name": st.name, "frames": st.count,
            "rate_hz": round(st.rate(), 3), "secoc": st.secoc,
            "verdicts": dict(sorted(st.verdicts.items())), "epoch": st.epoch,
            "first_t": round(st.first_t, 4), "last_t": round(st.last_t, 4),
            "signals": st.signals,
        })
    ep = obs.epochs
    return {"frames": obs.frames, "messages": msgs, "events": [e.as_dict() for e in obs.events],
            "epoch": {"current": ep.current, "alternate": ep.alt, "alternate_role": ep.alt_role}}


def _fmt(v):
    if isinstance(v, float):
        return "%g" % v
    return str(v)


def write_json(obs, path):
    # The report as JSON to path, or to standard output for "-".
    import json
    import sys

    from host_tools.errors import UserError

    text = json.dumps(report(obs), indent=2) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise UserError("cannot write %s: %s" % (path, e.strerror)) from None
