# The virtual vehicle: ECUs running the firmware's KeyAgent on the emulated
# CAN bus, the QKD module pair, application traffic from the DBC, background
# load, attackers and faults, all on one discrete-event clock. A scenario
# and its seed fully determine a virtual-time run.
import hashlib
import random

from keyagent.agent import DEFAULT_TIMING
from keyagent.secoc import engine as secoc

from emulator.attacks import REKEY_KINDS, Attacker, RekeyAttacker
from emulator.bus import CanBus
from emulator.bus_faults import Deafen, RandomBitErrors, RandomLoss
from emulator.clock import MS, S, Clock
from emulator.ecu import EmulatedEcu
from emulator.qkd_link import LinkParams
from emulator.qkd_pair import ModulePair
from emulator.report import OffEpoch
from emulator.traffic import Traffic, load_app_messages

SAMPLE_NS = 100 * MS
# Background load: 0x790..0x7DF, below everything else in priority but the
# diagnostic IDs 0x7E0..0x7EF (UDS, docs/ota.md), which it leaves alone.
_BACKGROUND_BASE_ID = 0x790
_BACKGROUND_IDS = 0x50
# Bus nodes of the scenario's own ECU processes (MicroPython) on the bus
# server are named "<ECU_CLIENT>:<host>:<port>"; every other client is external.
ECU_CLIENT = "ecu-process"


class Stats:
    def __init__(self, vehicle):
        self.vehicle = vehicle
        self.app_sent = 0
        self.app_unsent = 0  # not sent for want of a key (start-up, resets)
        self.frames_verified = 0
        self.authentic_rejected = {}
        # Frames from outside the scenario (bus server clients such as a
        # python-can script, a VirtualBridge): on the bus, and the verdicts
        # the ECUs gave them.
        self.external_frames = 0
        self.external_accepted = 0
        self.external_rejected = {}
        self.rejected_at = []  # (ns, receiving ECU) of the first authentic rejections

    def verdict(self, ecu, frame, reason):
        attacker = self.vehicle.attacker_nodes.get(frame.sender)
        if attacker is not None:
            if reason == 0:
                attacker.accepted += 1
            else:
                _count(attacker.rejected, secoc.REASONS[reason])
        elif self.vehicle.is_external(frame.sender):
            if reason == 0:
                self.external_accepted += 1
            else:
                _count(self.external_rejected, secoc.REASONS[reason])
        elif reason == 0:
            self.frames_verified += 1
        else:
            _count(self.authentic_rejected, secoc.REASONS[reason])
            if len(self.rejected_at) < 10000:
                self.rejected_at.append((self.vehicle.clock.now, ecu.name))

    def on_bus_frame(self, frame):
        if self.vehicle.is_external(frame.sender):
            self.external_frames += 1


def _count(counts, reason):
    counts[reason] = counts.get(reason, 0) + 1


class Vehicle:
    def __init__(self, scenario, inline_only=False):
        self.scenario = s = scenario
        self.seed = s["seed"]
        self.clock = Clock()
        self.bus = CanBus(self.clock, self.rng_for("bus"), s["bitrate"], s["data_bitrate"])
        self.stats = Stats(self)
        self.messages = load_app_messages(s["dbc"])
        qkd = s["qkd"]
        self.uart_baud = qkd.get("uart_baud", 115200)
        ecus = s["ecu"]
        master = [e for e in ecus if e.get("role") == "master"][0]
        ordered = [master] + [e for e in ecus if e is not master]
        self.nodes = dict((e["name"], n) for n, e in enumerate(ordered))
        sides = ["A"] + ["S%d" % self.nodes[e["name"]] for e in ordered[1:] if e.get("module")]
        self.pair = ModulePair(LinkParams(km=qkd.get("km", 25.0), loss_db_per_km=qkd.get("loss_db_per_km", 0.2)),
                               max_key_count=qkd.get("max_keys", 64), seed=self.seed, sides=sides)
        self.pair.fill()  # the modules have run before the ignition
        self.configs = self._configs(ordered)
        self.ecus = {}
        self.external = []  # ECUs that run as separate processes (real time only)
        for e in ordered:
            node = self.nodes[e["name"]]
            if e.get("process", "inline") == "micropython" and not inline_only:
                self.external.append(e["name"])
                continue
            side = ("A" if node == 0 else "S%d" % node) if e.get("module") else None
            self.ecus[e["name"]] = EmulatedEcu(self, e["name"], self.configs[node], side)
        self.master = self.ecus[master["name"]]
        from emulator.ota import OtaJob

        self.ota_jobs = [OtaJob(self, spec) for spec in s.get("ota", [])]
        self.attackers = [(RekeyAttacker if a["kind"] in REKEY_KINDS else Attacker)(self, a, i)
                          for i, a in enumerate(s["attack"])]
        self.attacker_nodes = dict((a.node, a) for a in self.attackers)
        self.epoch_reached = {}  # epoch -> {ecu name: time ns}
        self.off_epoch = OffEpoch([name for name in self.ecus if name != master["name"]])
        self.announced = {}  # epoch -> ms the master announced it
        self.issued_keys = {}  # key ID -> QKD key the master drew, for export()
        self.epoch_key_ids = {}  # epoch -> the key ID of its QKD key, as the master draws it
        self.keys_path = None  # export(live=True): keys.json, rewritten as keys are drawn
        self.keys_live = False
        self._record_issued_keys()
        self.timeline = []
        self.trace = None
        self._faults()
        self._traffic()
        self.own_nodes = set(e.bus_node for e in self.ecus.values()) | set(self.attacker_nodes)
        if self.background is not None:
            self.own_nodes.add(self.background)
        self.bus.monitors.append(self.stats.on_bus_frame)
        self.clock.call_at(0, self._sample)

    # Building.

    def is_external(self, node):
        """Is this bus node outside the scenario (not its ECUs, attackers or filler)?"""
        return node is not None and node not in self.own_nodes and not node.name.startswith(ECU_CLIENT + ":")

    def rng_for(self, name):
        # Independent, reproducible random streams per purpose.
        return random.Random(int.from_bytes(hashlib.sha256(b"%d/%s" % (self.seed, name.encode())).digest()[:8], "big"))

    def message(self, name):
        for m in self.messages:
            if m.name == name:
                return m
        raise KeyError("no message %r in the DBC" % name)

    def _configs(self, ordered):
        s = self.scenario
        rng = self.rng_for("provisioning")
        fv1 = s["freshness"].get("profile1_fv_bits", 32)
        multi = s["freshness"].get("mode", "single") == "multi"
        names = [e["name"] for e in ordered]
        clusters = []
        for e in ordered:
            sent = [m for m in self.messages if e["name"] in m.senders]
            if not sent:
                continue
            pdus = []
            members = {self.nodes[e["name"]], 0}
            for m in sent:
                receivers = sorted(set(self.nodes[r] for r in m.db_message.receivers if r in names) | {0})
                receivers = [r for r in receivers if r != self.nodes[e["name"]]]
                members.update(receivers)
                pdus.append({"name": m.name, "can_id": m.frame_id, "data_id": m.data_id,
                             "length": m.authentic_len, "profile": m.profile,
                             "fv_bits": fv1 if m.profile == 1 else None, "fd": m.is_fd,
                             "sender": self.nodes[e["name"]], "receivers": receivers,
                             "period_ms": m.period_ns // MS})
                if multi:
                    pdus[-1]["freshness"] = "multi"
            clusters.append({"id": len(clusters) + 1, "members": sorted(members), "pdus": pdus})
        # The agent's own defaults (keyagent.agent.DEFAULT_TIMING) for what
        # the scenario's [rekey] table leaves out; its period_ms is the
        # agent's rekey_period_ms.
        timing = dict(DEFAULT_TIMING)
        for key, value in s["rekey"].items():
            if key != "can_fd":  # a bus setting, not a timing
                timing["rekey_period_ms" if key == "period_ms" else key] = value
        slaves = []
        for e in ordered[1:]:
            slaves.append({"node": self.nodes[e["name"]], "module": bool(e.get("module")),
                           "auth_key": bytes(rng.randrange(256) for _ in range(16)).hex()})
        configs = {0: {"node": 0, "role": "master", "module": True, "slaves": slaves,
                       "clusters": clusters, "timing": timing}}
        for sl in slaves:
            configs[sl["node"]] = {"node": sl["node"], "role": "slave", "module": sl["module"],
                                   "auth_key": sl["auth_key"], "clusters": clusters, "timing": timing}
        if s["rekey"].get("can_fd"):  # rekey channels and ACTIVATE in CAN FD frames of up to 64 bytes
            for config in configs.values():
                config["isotp_tx_dl"] = 64
        if multi:  # docs/freshness.md: the layout and the sync message
            for config in configs.values():
                config["freshness"] = self._freshness()
        self._ota_provisioning(configs)
        return configs

    def _ota_provisioning(self, configs):
        # OTA (docs/ota.md): the QKD key the fleet backend shares with this
        # vehicle (the emulator does not model that link: a seeded stand-in),
        # each node's update key derived from it, and the gateway's own
        # long-term key for its SecurityAccess (the slaves use their K_auth).
        from keyagent.ota.image import update_key

        rng = self.rng_for("fleet")
        self.ota_key = bytes(rng.randrange(256) for _ in range(32))
        self.ota_key_id = "%08x-0000-4000-8000-%012x" % (rng.getrandbits(32), rng.getrandbits(48))
        configs[0]["auth_key"] = bytes(rng.randrange(256) for _ in range(16)).hex()
        for node, cfg in configs.items():
            cfg["ota_keys"] = {self.ota_key_id: update_key(self.ota_key, node, self.ota_key_id).hex()}

    def _freshness(self):
        # The scenario's [freshness] keys, else the DBC's network attributes.
        import cantools

        attrs = cantools.database.load_file(self.scenario["dbc"]).dbc.attributes
        f = self.scenario["freshness"]
        out = {}
        for key, attr, default in (("layout", "SecOC_FvLayout", "jaspar"),
                                   ("sync_can_id", "SecOC_FvSyncId", 0x6F1),
                                   ("sync_period_ms", "SecOC_FvSyncPeriod", 500)):
            out[key] = f[key] if key in f else attrs[attr].value if attr in attrs else default
        return out

    def _traffic(self):
        s = self.scenario
        self.traffic = Traffic([m for m in self.messages if set(m.senders) & set(self.ecus)],
                               self.rng_for("traffic"))

        def send(msg, payload):
            for sender in msg.senders:
                ecu = self.ecus.get(sender)
                if ecu is not None:
                    ecu.send_app(msg.name, payload)

        self.traffic.start(self.clock, send, only_senders=list(self.ecus))
        missing = s["bus_load"] - self.traffic.load(self.bus)
        self.background = None
        if missing > 0.005:
            node = self.bus.attach("background")
            rng = self.rng_for("background")
            from emulator.bus import Frame

            per_frame = self.bus.duration_ns(Frame(_BACKGROUND_BASE_ID, bytes(8)))
            gap = int(per_frame / missing)

            def tick():
                node.send(_BACKGROUND_BASE_ID + rng.randrange(_BACKGROUND_IDS), rng.getrandbits(64).to_bytes(8, "big"))
                self.clock.call_later(gap // 2 + rng.randrange(gap), tick)

            self.clock.call_at(rng.randrange(gap), tick)
            self.background = node

    def _faults(self):
        s = self.scenario
        for f in s["fault"]:
            kind = f["kind"]
            if kind == "loss":
                self.bus.loss_hooks.append(RandomLoss(self.rng_for("loss"), f.get("rate", 0.01)))
            elif kind == "bit_errors":
                self.bus.bit_error_hooks.append(RandomBitErrors(self.rng_for("bit_errors"), f.get("rate", 0.001)))
            elif kind == "deafen" and f["ecu"] in self.ecus:
                start = int(f.get("at_s", 1) * S)
                self.bus.loss_hooks.append(Deafen(self.clock, self.ecus[f["ecu"]].bus_node, start,
                                                  start + int(f.get("duration_s", 1) * S)))
            elif kind == "reset" and f["ecu"] in self.ecus:
                self.clock.call_at(int(f.get("at_s", 1) * S), self.ecus[f["ecu"]].reset)
            elif kind == "unplug":
                ecu = self.ecus.get(f["ecu"])
                if ecu is not None and ecu.module_side is not None:
                    start = int(f.get("at_s", 1) * S)
                    end = start + int(f.get("duration_s", 1) * S)
                    self.clock.call_at(start, self.pair.set_unplugged, ecu.module_side, True)
                    self.clock.call_at(end, self.pair.set_unplugged, ecu.module_side, False)
        for e in s["eavesdrop"]:
            start = int(e.get("at_s", 1) * S)
            self.clock.call_at(start, self.pair.set_eavesdrop, e.get("fraction", 0.5))
            self.clock.call_at(start + int(e.get("duration_s", 1) * S), self.pair.set_eavesdrop, 0.0)

    # Running.

    def record_trace(self):
        self.trace = []

        def record(frame):
            self.trace.append((frame.timestamp, frame.can_id, bytes(frame.data), frame.fd,
                               frame.sender.name if frame.sender is not None else ""))

        self.bus.monitors.append(record)

    def on_epoch(self, ecu, epoch):
        if epoch is not None:
            self.epoch_reached.setdefault(epoch, {})[ecu.name] = self.clock.now
        if hasattr(self, "off_epoch"):  # not while the ECUs are built
            self.off_epoch.update(self.clock.now, self.master.epoch,
                                  dict((name, e.epoch) for name, e in self.ecus.items()))

    def _record_issued_keys(self):
        # The emulated module's log of the keys it gave the master (its side
        # A), for export(); a real module hands a key out and forgets it.
        take = self.pair.take_new_keys

        def take_and_record(side, count, size_bits=None):
            keys = take(side, count, size_bits)
            for key_id, key in keys:
                self.issued_keys[bytes(key_id)] = bytes(key)
                # the master asked for it to start its next epoch
                self.epoch_key_ids[self.master.agent.rekey.epoch + 1] = bytes(key_id)
            if keys and self.keys_path:
                self._write_keys()  # before the ANNOUNCE that names it is on the bus
            return keys

        self.pair.take_new_keys = take_and_record

    def export(self, directory, live=False):
        # What `trace analyze`, `monitor` and unix_ecu.py need for this run:
        # DIR/keys.json, the QKD keys the master drew (the observers follow
        # the epochs by the key IDs announced on the bus), and DIR/<ECU>.json,
        # each ECU's node configuration (the gateway's holds the slaves'
        # authentication keys). Written only on request, each file 0600.
        # live: keys.json is rewritten whenever the master draws a key or
        # starts an epoch, and holds the K_epoch of the newest two epochs
        # too, so a monitor that joins mid-run verifies at once (an observer
        # takes the newest as current, so a trace read from its start must
        # not have them: the export after the run leaves them out).
        import json
        import os

        os.makedirs(directory, exist_ok=True)
        paths = []
        for name, node in sorted(self.nodes.items(), key=lambda kv: kv[1]):
            paths.append(_write_private(os.path.join(directory, name + ".json"), json.dumps(self.configs[node], indent=1)))
        if self.ota_jobs:  # the fleet's QKD key, for `qkd-secoc ota build` (docs/ota.md)
            doc = {"key_id": self.ota_key_id, "key": self.ota_key.hex()}
            paths.insert(0, _write_private(os.path.join(directory, "ota_key.json"), json.dumps(doc, indent=1)))
        self.keys_path = os.path.join(directory, "keys.json")
        self.keys_live = live
        paths.insert(0, self._write_keys())
        if not live:
            self.keys_path = None
        return paths

    def _write_keys(self):
        import json

        from keyagent.rekey.messages import epoch_key

        doc = {"qkd_keys": dict((k.hex(), v.hex()) for k, v in sorted(self.issued_keys.items()))}
        if self.keys_live:
            newest = sorted(self.epoch_key_ids.items())[-2:]
            doc["epoch_keys"] = dict((str(e), epoch_key(self.issued_keys[k], e).hex())
                                     for e, k in newest if k in self.issued_keys)
        return _write_private(self.keys_path, json.dumps(doc, indent=1))

    def _sample(self):
        self.pair.advance(self.clock.now / S)
        st = self.pair.status()
        # (t, key pool, QBER, alarm, epoch, genuine rejected, attack frames
        # rejected, secret key rate, per attacker (injected, rejected),
        # external frames rejected); emulator.report plots it
        self.timeline.append((self.clock.now, st["stored_key_count"], st["qber"], st["alarm"],
                              self.master.epoch or 0, sum(self.stats.authentic_rejected.values()),
                              sum(sum(a.rejected.values()) for a in self.attackers),
                              st["secret_key_rate_bps"],
                              tuple((a.injected, sum(a.rejected.values())) for a in self.attackers),
                              sum(self.stats.external_rejected.values())))
        self.clock.call_later(SAMPLE_NS, self._sample)

    def run(self, progress=None, step_s=1.0):
        end = int(self.scenario["duration_s"] * S)
        step = int(step_s * S)
        jobs = sorted((j for j in self.ota_jobs if j.ecu in self.ecus), key=lambda j: j.at_ns)
        t = 0
        with _InterruptBetweenSteps() as ctrl_c:
            while t < end:
                t = min(end, t + step)
                while jobs and jobs[0].at_ns <= t:
                    # An update drives the clock itself while udsoncan waits.
                    job = jobs.pop(0)
                    self.clock.run_until(max(self.clock.now, job.at_ns))
                    job.run()
                self.clock.run_until(max(t, self.clock.now))
                t = self.clock.now
                if progress is not None:
                    progress(self)
                if ctrl_c.pressed:
                    raise KeyboardInterrupt
        return self.summary()

    def rekey_latencies_ms(self):
        # Announce (the master installing the pending epoch) to the last ECU
        # on it, for every epoch every in-process ECU reached.
        out = []
        announced = self.announced  # from the master's epoch_announced events
        for epoch, reached in sorted(self.epoch_reached.items()):
            if epoch in announced and len(reached) == len(self.ecus):
                out.append((max(reached.values()) - announced[epoch] * MS) / MS)
        return out

    def summary(self):
        st = self.stats
        latencies = self.rekey_latencies_ms()
        status = self.pair.status()
        events = {}
        for ecu in self.ecus.values():
            for _, kind, _ in ecu.events:
                events[kind] = events.get(kind, 0) + 1
        return {
            "scenario": self.scenario["name"], "seed": self.seed,
            "duration_s": self.scenario["duration_s"],
            "frames_sent": st.app_sent, "frames_unsent_no_key": st.app_unsent,
            "frames_verified": st.frames_verified,
            "authentic_rejected": sum(st.authentic_rejected.values()),
            "authentic_rejected_by_reason": dict(sorted(st.authentic_rejected.items())),
            "external_frames": st.external_frames, "external_accepted": st.external_accepted,
            "external_rejected": sum(st.external_rejected.values()),
            "external_rejected_by_reason": dict(sorted(st.external_rejected.items())),
            "attacks_injected": sum(a.injected for a in self.attackers),
            "attacks_accepted": sum(a.accepted for a in self.attackers),
            "attacks": [{"kind": a.kind, "target": a.target,
                         "injected": a.injected, "accepted": a.accepted,
                         "rejected_by_reason": dict(sorted(a.rejected.items()))} for a in self.attackers],
            "rekeys_completed": len(latencies),
            "rekey_latency_ms": {"count": len(latencies),
                                 "max": max(latencies) if latencies else None,
                                 "mean": sum(latencies) / len(latencies) if latencies else None,
                                 "all": latencies},
            "epoch": self.master.epoch, "ecu_resets": sum(e.resets for e in self.ecus.values()),
            "bus_frames": self.bus.frames, "bus_load": self.bus.busy_time() / max(1, self.clock.now),
            "lost_deliveries": self.bus.lost_deliveries,
            "key_pool": status["stored_key_count"], "key_pool_max": self.pair.max_key_count,
            "qber": status["qber"], "qkd_alarm": status["alarm"],
            "qber_max": max([row[2] for row in self.timeline] or [status["qber"]]),
            "qkd_alarm_s": sum(1 for row in self.timeline if row[3]) * SAMPLE_NS / S,
            "events": dict(sorted(events.items())),
            **self.ota_summary(),
            "off_epoch_ms": self.off_epoch.totals_ms(self.clock.now),
            "off_epoch_max_ms": max(self.off_epoch.totals_ms(self.clock.now).values() or [0]),
        }

    def ota_summary(self):
        results = [j.result for j in self.ota_jobs if j.result["result"] is not None]
        by_nrc = {}
        for r in results:
            if r["nrc"] is not None:
                by_nrc[r["nrc"]] = by_nrc.get(r["nrc"], 0) + 1
        return {"ota": results, "ota_updated": sum(1 for r in results if r["result"] == "updated"),
                "ota_refused_by_nrc": dict(sorted(by_nrc.items())),
                "ota_versions": dict((n, e.version) for n, e in sorted(self.ecus.items()))}


class _InterruptBetweenSteps:
    # Ctrl-C during a virtual-time run takes effect between steps, never in
    # the middle of an event, so what ran so far is consistent: the summary
    # and the trace agree on every frame. (Only the main thread gets signals;
    # elsewhere, a Dask worker's thread, nothing changes.)
    def __enter__(self):
        import signal
        import threading

        self.pressed = False
        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._press)
        return self

    def _press(self, signum, frame):
        self.pressed = True

    def __exit__(self, *exc):
        import signal

        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _write_private(path, text):
    # A new file (O_EXCL: never a pre-existing one, never through a symlink),
    # 0600 whatever the umask, renamed over the name: a reader never sees half
    # a file, an old file keeps neither its mode nor its target, a symlink of
    # that name is replaced.
    import os

    folder, name = os.path.split(path)
    tmp = os.path.join(folder, ".%s.%d.tmp" % (name, os.getpid()))  # hidden while it is written
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return path
