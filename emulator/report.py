# What a run of the virtual vehicle shows: the live progress line, the
# closing summary, the CAN trace (BLF or ASC, with python-can's writers)
# and the PNG timeline of key pool, QBER, rekeys and rejections.
from emulator.attacks import REKEY_KINDS
from emulator.clock import MS, S


def progress_line(vehicle):
    st = vehicle.stats
    status = vehicle.pair.status()
    attacks = sum(a.injected for a in vehicle.attackers)
    accepted = sum(a.accepted for a in vehicle.attackers)
    return ("t=%6.1f s  epoch %-3s verified %-7d rejected %-4d attacks %d (accepted %d)  "
            "key pool %-4d QBER %5.1f%%%s" % (
                vehicle.clock.now / S, vehicle.master.epoch, st.frames_verified,
                sum(st.authentic_rejected.values()), attacks, accepted,
                status["stored_key_count"], 100 * status["qber"], "  ALARM" if status["alarm"] else ""))


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
        "frames: %d sent, %d verified, %d authentic rejected, %d not sent for want of a key"
        % (s["frames_sent"], s["frames_verified"], s["authentic_rejected"], s["frames_unsent_no_key"]),
    ]
    for reason, n in s["authentic_rejected_by_reason"].items():
        lines.append("  authentic rejected, %s: %d" % (reason, n))
    lines.append("attacks: %d injected, %d accepted" % (s["attacks_injected"], s["attacks_accepted"]))
    for a in s["attacks"]:
        reasons = ", ".join("%s %d" % kv for kv in a["rejected_by_reason"].items())
        if not reasons:
            reasons = "-" if not a["injected"] else (
                "none counted" if a["kind"] in REKEY_KINDS else "not a SecOC PDU, none judged")
        lines.append("  %-7s %-14s %5d injected, %d accepted; rejected: %s"
                     % (a["kind"], a["target"], a["injected"], a["accepted"], reasons))
    if s.get("off_epoch_ms"):
        lines.append("off the master's epoch (ms): " + ", ".join(
            "%s %.0f" % kv for kv in s["off_epoch_ms"].items()) + "; max %.0f" % s["off_epoch_max_ms"])
    lat = s["rekey_latency_ms"]
    lines.append("rekeys: %d completed, epoch %s; announce to last ECU: mean %s ms, max %s ms"
                 % (s["rekeys_completed"], s["epoch"], _ms(lat["mean"]), _ms(lat["max"])))
    lines.append("QKD: key pool %d keys, QBER %.1f%%%s (max %.1f%%, %.1f s in alarm); "
                 "bus: %d frames, load %.0f%%, %d deliveries lost"
                 % (s["key_pool"], 100 * s["qber"], " (ALARM)" if s["qkd_alarm"] else "",
                    100 * s["qber_max"], s["qkd_alarm_s"],
                    s["bus_frames"], 100 * s["bus_load"], s["lost_deliveries"]))
    for name, e in sorted(s.get("external_ecus", {}).items()):
        st = e["status"]
        lines.append("MicroPython ECU %s: epoch %s, %s verified, %s sent, rejected %s "
                     "(it cannot tell attack frames from others), exit %s"
                     % (name, st.get("epoch", "-"), st.get("verified", "0"), st.get("sent", "0"),
                        st.get("rejected", "-"), e["exit"]))
    if s["events"]:
        lines.append("events: " + ", ".join("%s %d" % kv for kv in s["events"].items()))
    return "\n".join(lines)


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


def plot(vehicle, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = vehicle.timeline
    t = [row[0] / S for row in tl]
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(10, 8))
    axes[0].plot(t, [row[7] / 1000.0 for row in tl], color="tab:green")
    axes[0].set_ylabel("secret key rate\n(kbit/s)")
    pool = axes[0].twinx()
    pool.plot(t, [row[1] for row in tl], color="tab:olive", linestyle=":")
    pool.set_ylabel("key pool (keys)")
    axes[1].plot(t, [100 * row[2] for row in tl], color="tab:red")
    axes[1].axhline(11, color="grey", linestyle="--", linewidth=0.8)
    axes[1].set_ylabel("QBER (%)")
    axes[2].step(t, [row[4] for row in tl], where="post", color="tab:blue")
    axes[2].set_ylabel("epoch")
    for epoch, ms in sorted(vehicle.announced.items()):
        for ax in axes:
            ax.axvline(ms / 1000.0, color="tab:blue", alpha=0.15, linewidth=0.8)
    axes[3].plot(t, [row[5] for row in tl], label="authentic rejected")
    axes[3].plot(t, [row[6] for row in tl], label="attack frames rejected")
    axes[3].set_ylabel("rejections")
    axes[3].legend(loc="upper left", fontsize=8)
    axes[3].set_xlabel("vehicle time (s)")
    fig.suptitle("qkd-secoc: %s (seed %d)" % (vehicle.scenario["name"], vehicle.seed))
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)
