# Periodic application traffic from the vehicle DBC (can_dbc/vehicle.dbc).
#
# Each DBC message is a SecOC secured I-PDU without header: the authentic
# I-PDU (SecOC_AuthenticBytes bytes), the truncated freshness value
# (SecOC_FvBits) and the truncated MAC (SecOC_MacBits), packed MSB first.
# This module produces the authentic payloads and the metadata the SecOC
# agent needs (Data ID, profile, FV/MAC lengths, period, FD); the agent adds
# FV and MAC. Signal values are deterministic for a given random.Random:
# smooth sinusoids inside each signal's range, rolling counters, rare flag
# and enum changes.
#
#   msgs = load_app_messages()                     # [AppMessage, ...]
#   traffic = Traffic(msgs, random.Random(seed))
#   traffic.start(clock, send)   # send(app_message, authentic_payload_bytes) each period
import math
import os

import cantools

from emulator.clock import MS

DEFAULT_DBC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "can_dbc",
                           "vehicle.dbc")


class AppMessage:
    """One periodic SecOC-protected application message."""

    __slots__ = ("name", "frame_id", "is_extended", "is_fd", "length", "period_ns", "data_id",
                 "profile", "authentic_len", "fv_bits", "mac_bits", "senders", "brs", "db_message")

    def __init__(self, db_message):
        attrs = db_message.dbc.attributes

        def attr(name):
            if name not in attrs:
                raise ValueError("%s: DBC attribute %s missing" % (db_message.name, name))
            return int(attrs[name].value)

        self.db_message = db_message
        self.name = db_message.name
        self.frame_id = db_message.frame_id
        self.is_extended = db_message.is_extended_frame
        self.is_fd = db_message.is_fd
        self.length = db_message.length
        self.period_ns = db_message.cycle_time * MS
        self.data_id = attr("SecOC_DataID")
        self.profile = attr("SecOC_Profile")
        self.authentic_len = attr("SecOC_AuthenticBytes")
        self.fv_bits = attr("SecOC_FvBits")
        self.mac_bits = attr("SecOC_MacBits")
        self.senders = tuple(db_message.senders)
        brs = attrs.get("CANFD_BRS")
        self.brs = self.is_fd and (brs is None or str(brs.value) == "1")
        if (8 * self.authentic_len + self.fv_bits + self.mac_bits + 7) // 8 > self.length:
            raise ValueError("%s: secured PDU does not fit in %d bytes" % (self.name, self.length))

    def layout(self):
        """Secured PDU fields as (first bit, bit count), bits numbered MSB first
        from bit 0 = most significant bit of byte 0."""
        a = 8 * self.authentic_len
        return {"authentic": (0, a), "fv": (a, self.fv_bits), "mac": (a + self.fv_bits, self.mac_bits)}

    def __repr__(self):
        return "AppMessage(%s 0x%X, %d ms)" % (self.name, self.frame_id, self.period_ns // MS)


def load_app_messages(path=DEFAULT_DBC):
    """The SecOC application messages of a DBC, by frame ID."""
    db = cantools.database.load_file(path, strict=True)
    return [AppMessage(m) for m in sorted(db.messages, key=lambda m: m.frame_id)
            if "SecOC_DataID" in m.dbc.attributes]


def secured_pdu(message, authentic, fv, mac):
    """Pack authentic bytes, truncated FV and truncated MAC (ints) MSB first,
    as SecOC does; padded with zero bits to the message length. For tests and
    tools; the agent has its own packer."""
    a = message.authentic_len
    tail_bits = message.fv_bits + message.mac_bits
    tail = (fv << message.mac_bits) | mac
    pad = 8 * (message.length - a) - tail_bits
    return bytes(authentic[:a]) + (tail << pad).to_bytes(message.length - a, "big")


class _Signal:
    __slots__ = ("name", "kind", "lo", "hi", "phase", "period_s", "value", "choices")


class PayloadGenerator:
    """Deterministic, plausible signal values for one message."""

    def __init__(self, message, rng):
        self.message = message
        self.rng = rng
        self._signals = []
        skip = {message.name + "_FV", message.name + "_MAC"}
        self._fixed = {s: 0 for s in skip}
        for sig in message.db_message.signals:
            if sig.name in skip:
                continue
            s = _Signal()
            s.name = sig.name
            lo = sig.minimum if sig.minimum is not None else 0
            hi = sig.maximum if sig.maximum is not None else (1 << sig.length) - 1
            s.lo, s.hi = lo, hi
            s.choices = sorted(sig.choices) if sig.choices else None
            if "Counter" in sig.name:
                s.kind, s.value = "counter", 0
            elif s.choices:
                s.kind, s.value = "enum", s.choices[0]
            elif sig.length == 1:
                s.kind, s.value = "flag", 0
            else:
                s.kind = "wave"
                s.phase = rng.random() * 2 * math.pi
                s.period_s = 2.0 + 8.0 * rng.random()
            self._signals.append(s)

    def values(self, t_ns):
        """Physical values of every authentic signal at virtual time t_ns."""
        rng = self.rng
        out = dict(self._fixed)
        t = t_ns / 1e9
        for s in self._signals:
            if s.kind == "counter":
                s.value = (s.value + 1) % (int(s.hi) + 1)
                v = s.value
            elif s.kind == "enum":
                if rng.random() < 0.01:
                    s.value = s.choices[rng.randrange(len(s.choices))]
                v = s.value
            elif s.kind == "flag":
                if rng.random() < 0.02:
                    s.value ^= 1
                v = s.value
            else:
                mid = (s.lo + s.hi) / 2
                amp = (s.hi - s.lo) * 0.4
                v = mid + amp * math.sin(2 * math.pi * t / s.period_s + s.phase)
            out[s.name] = v
        return out

    def payload(self, t_ns):
        """The authentic I-PDU bytes (encoded with cantools)."""
        # Values are generated within their signals' ranges (tested), so
        # cantools' per-call range checks are skipped on this hot path.
        data = self.message.db_message.encode(self.values(t_ns), scaling=True, padding=False,
                                              strict=False)
        return bytes(data[: self.message.authentic_len])


class Traffic:
    """Schedules every message periodically on a Clock. Each message starts
    at a deterministic offset within its first period (from rng)."""

    def __init__(self, messages, rng):
        self.messages = list(messages)
        self.rng = rng
        self.generators = {m.frame_id: PayloadGenerator(m, rng) for m in self.messages}
        self.sent = 0
        self._handles = {}

    def start(self, clock, send, only_senders=None):
        """Call send(app_message, authentic_payload) every period, for the
        messages whose DBC sender is in only_senders (all if None)."""
        for m in self.messages:
            if only_senders is not None and not set(m.senders) & set(only_senders):
                continue
            offset = self.rng.randrange(m.period_ns) if m.period_ns else 0
            self._handles[m.frame_id] = clock.call_later(offset, self._tick, clock, send, m)

    def _tick(self, clock, send, m):
        send(m, self.generators[m.frame_id].payload(clock.now))
        self.sent += 1
        self._handles[m.frame_id] = clock.call_later(m.period_ns, self._tick, clock, send, m)

    def stop(self, clock):
        for h in self._handles.values():
            clock.cancel(h)
        self._handles.clear()

    def load(self, bus):
        """Bus load this traffic puts on `bus` (its bitrates and stuffing)."""
        from emulator.bus import Frame

        total = 0.0
        for m in self.messages:
            f = Frame(m.frame_id, bytes(m.length), m.is_extended, m.is_fd, m.brs)
            total += bus.duration_ns(f) / m.period_ns
        return total
