# The rules a virtual-time run must keep, shared by campaigns, `emulate`
# and the scenario tests, so that a campaign is a property test over seeds.
# A run fails when:
#   - an attack frame was accepted;
#   - an authentic frame was rejected outside a fault window (below);
#   - an ECU was off the master's epoch longer than the protocol's bound
#     (only where the summary reports `off_epoch_ms`);
#   - anything raised an exception.
#
# Fault windows, where authentic rejections are expected:
#   reset, unplug (and any other fault naming an `ecu`): that ECU only, from
#     the fault until its end plus two rekey periods and the grace time
#     (an ECU that reset verifies again within two rekey periods);
#   deafen: that ECU, until two retry periods after it hears the bus again;
#   eavesdrop: every ECU, until two rekey periods after it stops.
# Loss and bit errors open no window: a lost or corrupted frame never
# reaches a receiver, so it is never rejected.
from emulator.clock import MS, S


class RejectionLog:
    """Records every authentic rejection of a vehicle's run with its time
    and ECU (the summary only counts them)."""

    def __init__(self, vehicle):
        self.vehicle = vehicle
        self.entries = []  # (time ns, ECU name, reason number)
        verdict = vehicle.stats.verdict

        def record(ecu, frame, reason):
            if reason != 0 and frame.sender not in vehicle.attacker_nodes:
                self.entries.append((vehicle.clock.now, ecu.name, reason))
            verdict(ecu, frame, reason)

        vehicle.stats.verdict = record


def _timing(scenario):
    r = scenario.get("rekey", {})
    return (r.get("period_ms", 5000), r.get("grace_ms", 500), r.get("retry_ms", 200),
            r.get("activate_deadline_ms", 2000))


def fault_windows(scenario):
    """(start ns, end ns, ECU name or None for every ECU) of each fault."""
    period, grace, retry, _ = _timing(scenario)
    settle = (2 * period + grace) * MS
    out = []
    for f in scenario.get("fault", []):
        if f.get("kind") in ("loss", "bit_errors") or "ecu" not in f:
            continue
        start = int(f.get("at_s", 1) * S)
        length = int(f.get("duration_s", 0) * S) if f["kind"] != "reset" else 0
        after = 2 * retry * MS if f["kind"] == "deafen" else settle
        out.append((start, start + length + after, f["ecu"]))
    for e in scenario.get("eavesdrop", []):
        start = int(e.get("at_s", 1) * S)
        out.append((start, start + int(e.get("duration_s", 1) * S) + settle, None))
    return out


def off_epoch_bound_ms(scenario, ecu):
    """The longest an ECU may be off the master's epoch: an activation
    deadline plus two retries, or its longest fault window."""
    _, _, retry, deadline = _timing(scenario)
    bound = deadline + 2 * retry
    for start, end, who in fault_windows(scenario):
        if who is None or who == ecu:
            bound = max(bound, (end - start) // MS)
    return bound


def off_epoch_by_ecu(summary):
    """{ECU: ms} from the summary's `off_epoch_ms` (per ECU, possibly with
    its maximum beside), or {} where the summary has none."""
    value = summary.get("off_epoch_ms")
    if isinstance(value, dict):
        per_ecu = value.get("per_ecu", value)
        return dict((k, v) for k, v in per_ecu.items() if k != "max" and isinstance(v, (int, float)))
    return {}


def failures(scenario, summary, rejections):
    """The broken rules of a finished run, one line each ([] = it passed)."""
    from keyagent.secoc.engine import REASONS

    out = []
    if summary["attacks_accepted"]:
        out.append("attacks accepted: %d" % summary["attacks_accepted"])
    windows = fault_windows(scenario)
    outside = [(t, ecu, reason) for t, ecu, reason in rejections
               if not any(start <= t <= end and who in (None, ecu) for start, end, who in windows)]
    if outside:
        t, ecu, reason = outside[0]
        out.append("authentic rejections outside fault windows: %d (first at %.3f s on %s: %s)"
                   % (len(outside), t / S, ecu, REASONS[reason]))
    for ecu, ms in sorted(off_epoch_by_ecu(summary).items()):
        bound = off_epoch_bound_ms(scenario, ecu)
        if ms > bound:
            out.append("%s off the master's epoch for %.0f ms (bound %d ms)" % (ecu, ms, bound))
    return out


def exception_failure(exc):
    return "exception: %s: %s" % (type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
