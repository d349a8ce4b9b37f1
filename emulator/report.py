# What a run of the virtual vehicle shows: the live progress line, the
# closing summary, the CAN trace (BLF or ASC, with python-can's writers)
# and the PNG timeline of key pool, QBER, rekeys and rejections.
from emulator.attacks import REKEY_KINDS
from emulator.clock import MS, S


def progress_line(vehicle):
    # One line a second. "verified" counts receptions (a PDU has 1 to 3
    # receivers); genuine, attack and external frames are counted apart.
    st = vehicle.stats
    status = vehicle.pair.status()
    attacks = sum(a.injected for a in vehicle.attackers if a.kind != "flood")
    flood = sum(a.injected for a in vehicle.attackers if a.kind == "flood")
    attack_rejections = sum(sum(a.rejected.values()) for a in vehicle.attackers)
    line = ("t=%6.1f s  epoch %-3s genuine: %d verified, %d rejected  attack frames: %d sent, "
            "%d accepted, %d rejections%s  key pool %d/%d  QBER %4.1f%%%s" % (
                vehicle.clock.now / S, vehicle.master.epoch, st.frames_verified,
                sum(st.authentic_rejected.values()), attacks, sum(a.accepted for a in vehicle.attackers),
                attack_rejections, ", flood %d" % flood if flood else "", status["stored_key_count"],
                vehicle.pair.max_key_count, 100 * status["qber"], "  ALARM: no new keys" if status["alarm"] else ""))
    if st.external_frames:
        line += "  external %d (rejected %d, accepted %d)" % (
            st.external_frames, sum(st.external_rejected.values()), st.external_accepted)
    return line


class OffEpoch:
    """How long each ECU is off the master's epoch (another epoch, or no key
    while the master has one): intervals of vehicle time, in ns."""

    def __init__(self, names):
        self.since = dict((name, None) for name in names)  # name -> off since (ns), None: on
        self.intervals = dict((name, []) for name in names)  # name -> [(start, end)]

    def update(self, now, master_epoch, epochs):
        for name, since in self.since.items():
            off = epochs.get(name) != master_epoch
            if off and since is None:
                self.since[name] = now
            elif not off and since is not None:
                self.intervals[name].append((since, now))
                self.since[name] = None

    def all_intervals(self, now):
        out = {}
        for name, done in self.intervals.items():
            since = self.since[name]
            out[name] = done + ([(since, now)] if since is not None else [])
        return out

    def totals_ms(self, now):
        return dict((name, sum(end - start for start, end in iv) / MS)
                    for name, iv in sorted(self.all_intervals(now).items()))


def summary_text(summary):
    s = summary
    lines = [
        "scenario %s (seed %d), %.1f s of vehicle time" % (s["scenario"], s["seed"], s["duration_s"]),
        "genuine traffic: %d PDUs sent, %d receptions verified (each PDU has 1 to 3 receivers), "
        "%d rejected; %d PDUs not sent for want of a key (start-up, resets)"
        % (s["frames_sent"], s["frames_verified"], s["authentic_rejected"], s["frames_unsent_no_key"]),
    ]
    for reason, n in s["authentic_rejected_by_reason"].items():
        lines.append("  genuine rejected, %s: %d" % (reason, n))
    if s.get("external_frames"):
        reasons = ", ".join("%s %d" % kv for kv in s["external_rejected_by_reason"].items()) or "-"
        lines.append("external frames: %d (from outside the scenario), %d accepted, rejected: %s"
                     % (s["external_frames"], s["external_accepted"], reasons))
    lines.append("attacks: %d frames injected, %d accepted by an ECU" % (s["attacks_injected"], s["attacks_accepted"]))
    for a in s["attacks"]:
        reasons = ", ".join("%s %d" % kv for kv in a["rejected_by_reason"].items())
        if a["kind"] == "flood":
            judged = "not SecOC PDUs: no ECU judges them; they win arbitration and delay the rest"
        elif a["kind"] in REKEY_KINDS and not reasons:
            judged = "rekey frames: refused without a counted reason, or ignored"
        else:
            judged = "receivers rejected: %s" % (reasons or "-")
        lines.append("  %-7s %-14s %5d frames, %d accepted; %s"
                     % (a["kind"], a["target"], a["injected"], a["accepted"], judged))
    if s.get("off_epoch_ms"):
        lines.append("off the master's epoch (ms): " + ", ".join(
            "%s %.0f" % kv for kv in s["off_epoch_ms"].items()) + "; max %.0f" % s["off_epoch_max_ms"])
    lat = s["rekey_latency_ms"]
    lines.append("rekeys: %d completed, epoch %s; announce to the last ECU on the new epoch: mean %s ms, max %s ms"
                 % (s["rekeys_completed"], s["epoch"], _ms(lat["mean"]), _ms(lat["max"])))
    lines.append("QKD: key pool %d of %d keys at the end, QBER %.1f%%%s; max QBER %.1f%%, %.1f s above the "
                 "11%% abort threshold (no new keys meanwhile)"
                 % (s["key_pool"], s.get("key_pool_max", 0), 100 * s["qber"], " (ALARM)" if s["qkd_alarm"] else "",
                    100 * s["qber_max"], s["qkd_alarm_s"]))
    lines.append("bus: %d frames, load %.0f%%; %d deliveries lost (a frame that one receiver did not get, "
                 "from the scenario's loss and bit-error faults; never judged)"
                 % (s["bus_frames"], 100 * s["bus_load"], s["lost_deliveries"]))
    for name, e in sorted(s.get("external_ecus", {}).items()):
        lines.append("MicroPython ECU %s: %s (its own count, attack frames included), exit %s"
                     % (name, ecu_status_text(e["status"]), e["exit"]))
    for r in s.get("ota", []):  # [[ota]] jobs (docs/ota.md)
        outcome = "updated" if r["result"] == "updated" else "%s by %s %s" % (r["result"], r["service"], r["nrc"])
        lines.append("ota: %s %s%s: %s, %d bytes in %.1f s" % (r["ecu"], r["version"],
                                                              " (%s)" % r["attack"] if r["attack"] else "",
                                                              outcome, r["bytes"], r["duration_s"]))
    if s["events"]:
        lines.append("agent events: " + ", ".join("%s %d" % kv for kv in s["events"].items()))
    return "\n".join(lines)


def ecu_status_text(st):
    # A MicroPython ECU's last status line (keyagent.status.parse_status).
    rejected = st.get("rejected") or {}
    return "epoch %s, %d verified, %d sent, rejected %s" % (
        "-" if st.get("epoch") is None else st["epoch"], st.get("verified") or 0, st.get("sent") or 0,
        ",".join("%s:%d" % r for r in sorted(rejected.items())) or "-")


def _ms(v):
    return "-" if v is None else "%.1f" % v


def write_trace(trace, path, start_time=0.0):
    # trace: (timestamp ns, can_id, data, fd, sender) tuples. Virtual time
    # starts at start_time (seconds since the epoch) so that the same run
    # writes the same file.
    import can

    if path.lower().endswith(".blf"):
        writer = can.BLFWriter(path)
    elif path.lower().endswith(".asc"):
        writer = can.ASCWriter(path)
    else:
        raise ValueError("trace files end in .blf or .asc")
    with writer:
        for ts, can_id, data, fd, sender in trace:
            writer.on_message_received(can.Message(
                timestamp=start_time + ts / S, arbitration_id=can_id, data=data, is_fd=fd,
                bitrate_switch=fd, is_extended_id=False, channel=0))


def plot_formats():
    """The picture formats matplotlib writes, by extension (png, svg, pdf, jpg, ...)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return set(Figure().canvas.get_supported_filetypes())


# Metadata that would differ between two runs, left out so the same run
# writes the same file.
_NO_DATES = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


def plot(vehicle, path):
    """Write the timeline picture; the extension names the format."""
    import os

    import matplotlib.pyplot as plt

    fig = timeline_figure(vehicle)
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    fig.savefig(path, dpi=80, format=fmt, metadata=_NO_DATES.get(fmt))
    plt.close(fig)


def timeline_figure(vehicle):
    # Four panels over vehicle time, readable without the README: the QKD
    # key supply, the QBER against the abort threshold, the epochs, and the
    # rejections by kind; attack, eavesdropper and alarm windows shaded.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = vehicle.timeline
    t = [row[0] / S for row in tl]
    sc = vehicle.scenario
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(11, 10))
    _shade(axes, sc, t, [row[3] for row in tl])

    ax = axes[0]
    cap = vehicle.pair.max_key_count
    ax.step(t, [row[1] for row in tl], where="post", color="tab:olive", label="key pool (keys ready)")
    ax.set_ylim(-0.3, cap + 0.8)
    ax.set_ylabel("key pool\n(of %d keys)" % cap)
    rate = ax.twinx()
    rate.plot(t, [row[7] for row in tl], color="tab:green", linestyle="--", label="secret key rate")
    rate.set_ylabel("secret key rate (bit/s)")
    rate.set_ylim(bottom=0)
    _legend(ax, rate, "QKD key supply: each rekey draws a key, the link refills the pool")

    ax = axes[1]
    ax.plot(t, [100 * row[2] for row in tl], color="tab:red", label="QBER")
    ax.axhline(11, color="black", linestyle="--", linewidth=0.8, label="11 % abort threshold: no new keys above")
    ax.set_ylabel("QBER (%)")
    ax.set_ylim(0, max(25, 8 + max([100 * row[2] for row in tl] or [0])))
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[2]
    ax.step(t, [row[4] for row in tl], where="post", color="tab:blue", label="epoch (current key)")
    announced = sorted(ms / 1000.0 for ms in vehicle.announced.values())
    ax.plot(announced, [0.3] * len(announced), "v", color="tab:blue", markersize=5, label="rekey announced")
    ax.set_ylabel("epoch")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[3]
    for i, a in enumerate(vehicle.attackers):
        target = a.spec.get("target", "CAN ID 0x%03X" % a.can_id)
        if a.kind == "flood":
            ax.plot(t, [row[8][i][0] / 10.0 for row in tl], color="tab:gray", linestyle=":",
                    label="flood on %s: frames sent / 10 (not SecOC: none judged)" % target)
        else:
            ax.plot(t, [row[8][i][1] for row in tl], label="%s %s: rejections" % (a.kind, target))
    ax.plot(t, [row[5] for row in tl], color="black", linewidth=1.5, label="genuine frames rejected")
    if any(row[9] for row in tl):
        ax.plot(t, [row[9] for row in tl], color="tab:cyan", label="external frames rejected")
    ax.set_ylabel("rejections\n(one per receiver)")
    ax.set_ylim(-5, 1.8 * max(10, ax.get_ylim()[1]))  # room for the legend above the lines
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    ax.set_xlabel("vehicle time (s)")
    ax.set_xlim(0, sc["duration_s"])
    fig.suptitle("qkd-secoc: scenario %s (seed %d): %d ECUs, rekey every %g s, %d attacks accepted"
                 % (sc["name"], vehicle.seed, len(vehicle.nodes), sc["rekey"]["period_ms"] / 1000.0,
                    sum(a.accepted for a in vehicle.attackers)))
    fig.tight_layout()
    return fig


def _shade(axes, scenario, t, alarm):
    # The scenario's episodes on every panel, labelled once (top panel).
    spans = [(a["at_s"], a["at_s"] + a["duration_s"], "tab:purple", 0.08, "attacks") for a in scenario["attack"]]
    spans += [(e["at_s"], e["at_s"] + e["duration_s"], "tab:orange", 0.12, "eavesdropper on the QKD link")
              for e in scenario["eavesdrop"]]
    start = None
    for when, on in zip(t + [None], alarm + [False]):
        if on and start is None:
            start = when
        elif not on and start is not None:
            spans.append((start, when if when is not None else t[-1], "tab:red", 0.15,
                          "QKD alarm: no new keys, the current key stays"))
            start = None
    labelled = set()
    end = scenario["duration_s"]
    for lo, hi, color, alpha, label in spans:
        if lo >= end:
            continue  # after the run (a shortened one)
        hi = min(hi, end)
        for ax in axes:
            ax.axvspan(lo, hi, color=color, alpha=alpha, linewidth=0)
        if label not in labelled:
            # the alarm's label inside the QBER panel, the others above the top one
            labelled.add(label)
            ax, y, va = (axes[1], 0.97, "top") if color == "tab:red" else (axes[0], 1.02, "bottom")
            ax.text((lo + hi) / 2, y, label, transform=ax.get_xaxis_transform(),
                    ha="center", va=va, fontsize=8, color=color)


def _legend(ax, twin, title):
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", fontsize=8, title=title,
              title_fontsize=8)
