# The key agent: one ECU's SecOC endpoints, its epoch keys and its role in
# the rekey protocol (docs/rekey-protocol.md), sans-I/O.
#
# The caller (a board loop, the emulator, a test) hands in received CAN
# frames, bytes from the optical module and the time in integer ms, and
# takes out CAN frames to send (pop_frames), bytes for the module
# (module_data) and the time of the next timer (next_timer). Verified
# application payloads go to the on_payload(pdu, data) callback; what an
# operator should know goes to `events`.
from keyagent.secoc import engine as secoc
from keyagent.secoc.freshness import CounterFreshness
from keyagent.isotp.connection import IsoTpConnection, IsoTpReceiver, IsoTpSender
from keyagent.isotp.frames import sf_capacity
from keyagent.rekey.ids import ACTIVATE_ID, to_master_id, to_slave_id
from keyagent.rekey.keyslots import KeySlots

_MAX_EVENTS = 256
_MAX_QUEUED = 2  # ISO-TP messages waiting per channel; older ones give way
_ISOTP_TIMEOUT_MS = 100
# What the knobs do to an attacker's odds (docs/rekey-protocol.md, "Forgery
# bounds"): a receiver accepts a random forgery with probability
# candidates x keys x 2^-MAC bits per frame; profile 1 (24-bit MAC, one extra
# freshness candidate) 2^-23 with one key and 2^-22 with two, which it holds
# from a pending install to activation (activate_deadline_ms at most) and for
# grace_ms after; rekey_period_ms and key_lifetime_* say how often. retry_ms
# is also the beacon period: a slave that missed a rekey is back within
# 2 x retry_ms of hearing the bus again.
DEFAULT_TIMING = {"rekey_period_ms": 10000, "grace_ms": 500, "retry_ms": 200,
                  "activate_deadline_ms": 2000, "join_retry_ms": 500,
                  "key_lifetime_ms": 60000, "key_lifetime_frames": 1000000}


def _default_rand(config, storage):
    import os

    if hasattr(os, "urandom"):
        return os.urandom
    if "auth_key" in config:
        # No RNG in this build (the STM32F446 has none): a slave's own K_auth
        # keys a source whose output never repeats while storage keeps its
        # boot count, which is what the JOIN nonces need.
        from keyagent.crypto.keyed_random import KeyedRandom

        return KeyedRandom(bytes.fromhex(config["auth_key"]), storage)
    # A master without an RNG draws no nonces; MicroPython's `random` (seeded
    # from whatever the port has) for the rest.
    import random

    return lambda n: bytes(random.getrandbits(8) for _ in range(n))


class Pdu:
    multi = None  # the node's MultiCounter for a multi-counter PDU

    def __init__(self, index, cluster, spec, node, multi=None):
        self.index = index
        self.cluster = cluster
        self.name = spec["name"]
        self.can_id = spec["can_id"]
        self.sender = spec["sender"]
        self.fd = spec.get("fd", False)
        # "freshness": "multi": the node's multi-counter layout decides the
        # freshness value (keyagent.secoc.multi_counter); else one counter.
        fv_bits = spec.get("fv_bits")
        if spec.get("freshness") == "multi":
            if multi is None:
                raise ValueError("multi-counter freshness needs a node's sync state (docs/freshness.md)")
            self.multi = multi
            fv_bits = multi.layout.fv_bits
        self.layout = secoc.layout_for_profile(spec["profile"], spec["data_id"], spec["length"],
                                               fv_bits, self.fd)
        self.tx = secoc.SecOCTx(self.layout, self.fvm()) if self.sender == node else None
        self.rx = None if self.tx else secoc.SecOCRx(self.layout, self.fvm(1))
        self.high_fv = 0  # highest freshness value seen in the current epoch

    def fvm(self, attempts=0, start=0, joined=False):
        # joined: keys of an epoch this node may have used before a reboot.
        if not self.layout.fv_bits:
            return None
        if self.multi is not None:
            return self.multi.fvm(self.layout.tx_fv_bits, attempts, joined)
        f = CounterFreshness(self.layout.fv_bits, self.layout.tx_fv_bits, attempts)
        f.restart(start)
        return f


class _Channel:
    # One ISO-TP connection with a short queue of messages to send. tx_dl is
    # its frame size: 8 on classic CAN, up to 64 on CAN FD, where a message
    # of up to tx_dl - 2 bytes goes as one single frame (the FD escape).
    def __init__(self, rx_id, tx_id, max_rx, tx_dl):
        self.rx_id = rx_id
        self.tx_id = tx_id
        self.max_rx = max_rx
        self.tx_dl = tx_dl
        # Each side is made when first needed: most channels only send or
        # only receive, and RAM is short on a gateway.
        self.conn = IsoTpConnection(new_sender=self._new_sender, new_receiver=self._new_receiver)
        self.queue = []

    # Short ISO-TP timeouts: the rekey protocol retries on its own. Our peers
    # always answer CTS, block size 0, STmin 0 (the protocol says so): any
    # other flow control is forged and must not stop or slow us. Classic
    # frames are padded to 8 bytes with 0xCC; on CAN FD, frames of up to 8
    # bytes (flow control) go unpadded and longer ones are padded with 0xCC
    # to a CAN FD length (ISO 15765-2:2016).

    def _new_sender(self):
        fd = self.tx_dl > 8
        return IsoTpSender(fd, self.tx_dl, padding=None if fd else 0xCC, n_bs_ms=_ISOTP_TIMEOUT_MS,
                           peer_fc=(0, 0))

    def _new_receiver(self):
        fd = self.tx_dl > 8
        return IsoTpReceiver(self.max_rx, fd, padding=None if fd else 0xCC, n_cr_ms=_ISOTP_TIMEOUT_MS)

    def sending(self):
        # True while we send, or have queued, a transfer that needs flow
        # control. On CAN FD a message that fits one frame goes out at once
        # and holds nothing; on classic CAN every queued message counts.
        if self.conn.sending():
            return True
        if self.tx_dl == 8:
            return len(self.queue) > 0
        sf_max = sf_capacity(self.tx_dl)
        for msg in self.queue:
            if len(msg) > sf_max:
                return True
        return False


class KeyAgent:
    def __init__(self, config, storage, module=None, rand=None):
        # rand(n): n random bytes, for the JOIN nonces (they must never
        # repeat across boots); os.urandom (a hardware RNG on boards that
        # have one) unless the caller has a better one.
        self.rand = rand or _default_rand(config, storage)
        self.node = config["node"]
        self.role = config["role"]
        self.storage = storage
        self.module = module  # a keyagent.optical.client.ModuleClient, or None
        self.timing = dict(DEFAULT_TIMING)
        self.timing.update(config.get("timing", {}))
        self.pdus = []
        self.by_can_id = {}
        self.multi = None  # keyagent.secoc.multi_counter, for "freshness": "multi" PDUs
        cluster_ids = []
        index = -1  # PDU indexes count every PDU of the configuration, in order
        for cluster in config["clusters"]:
            member = self.node in cluster.get("members", [self.node])
            if member:
                cluster_ids.append(cluster["id"])
            for spec in cluster["pdus"]:
                index += 1
                if spec.get("freshness") == "multi" and self.multi is None:
                    # Imported only when used: a board without it stays lean.
                    from keyagent.secoc.multi_counter import MultiCounter

                    self.multi = MultiCounter(config, storage)
                receivers = spec.get("receivers")
                if not member or (receivers is not None and self.node != spec["sender"]
                                  and self.node not in receivers):
                    continue  # not ours to verify: the CAN controller filters it out
                pdu = Pdu(index, cluster["id"], spec, self.node, self.multi)
                self.pdus.append(pdu)
                self.by_can_id[pdu.can_id] = pdu
        self.cluster_ids = cluster_ids
        self.on_payload = None
        self.events = []
        self.dropped_events = 0
        self.rejected = {}  # reason name -> count, over every PDU
        self.verified = 0
        self._out = []
        self._frame = bytearray(64)
        # ISO-TP links: receive ID -> (transmit ID, largest message). A
        # channel (its buffers) exists only while a transfer is under way.
        # "isotp_tx_dl" 64 runs the rekey channels and ACTIVATE on CAN FD.
        self.tx_dl = config.get("isotp_tx_dl", 8)
        self.links = {}
        self._channels = {}
        self.keys = KeySlots(self.pdus, cluster_ids, self.timing["grace_ms"], self.event)
        if self.multi is not None:
            self.multi.slots = self.keys
        if self.role == "master":
            from keyagent.rekey.master import RekeyMaster

            self.rekey = RekeyMaster(self, config)
            for node in self.rekey.slaves:  # a slave's longest message: JOIN, 25 bytes
                self.links[to_master_id(node)] = (to_slave_id(node), 25)
        else:
            from keyagent.rekey.slave import RekeySlave

            self.rekey = RekeySlave(self, config)
            # A DELIVER: 79 bytes, the MAC, 5 bytes of freshness floor per PDU.
            self.links[to_slave_id(self.node)] = (to_master_id(self.node), 87 + 5 * (index + 1))

    @property
    def current(self):
        # The EpochKeys this ECU sends with, or None.
        return self.keys.current

    # What the caller drives.

    def start(self, now):
        self.rekey.start(now)

    def send(self, name_or_pdu, payload, now):
        # Protects and queues one application PDU. Returns the frame length,
        # or minus a secoc reason code (no key yet, freshness exhausted).
        pdu = name_or_pdu if isinstance(name_or_pdu, Pdu) else self.pdu(name_or_pdu)
        if pdu.multi is not None:
            self._sync(now)  # a due sync message goes first
        n = pdu.tx.protect(payload, len(payload), self._frame)
        if n < 0:
            return n
        self._out.append((pdu.can_id, bytes(self._frame[0:n]), pdu.fd))
        cur = self.keys.current
        if cur is not None:
            cur.frames += 1
            if pdu.multi is None:  # multi-counter values need no floors
                pdu.high_fv = pdu.tx.fvm.counter if pdu.tx.fvm else 0
        return n

    def on_frame(self, can_id, data, now):
        # Returns the SecOC verdict (0 OK, else a secoc reason code) for an
        # application PDU we receive, None for anything else.
        pdu = self.by_can_id.get(can_id)
        if pdu is not None:
            return self._verify(pdu, data, now) if pdu.rx is not None else None
        if can_id == ACTIVATE_ID:
            self.rekey.on_activate(data, now)
            return
        if self.multi is not None and can_id == self.multi.can_id:
            reason = self.multi.on_frame(data, now)
            if reason is not None:
                self.count(reason)
            return
        if can_id in self.links:
            ch = self._channel(can_id)
            ch.conn.on_frame(data, now)
            msg = ch.conn.pop_message()
            if msg is not None:
                self.rekey.on_message(can_id & 0x3F, bytes(msg), now)
                self._drain_all(now)  # what the answer queued goes at once too
            else:
                self._drain(ch, now)  # flow control goes out at once, not at the next poll

    def on_module_data(self, data, now):
        self.module.receive_data(data)
        self._module_results(now)

    def module_data(self):
        return self.module.data_to_send() if self.module is not None else b""

    def poll(self, now):
        if self.module is not None:
            self.module.handle_timers(now)
            self._module_results(now)
        self.keys.poll(now)
        self.rekey.poll(now)
        self._drain_all(now)
        if self.multi is not None:
            self._sync(now)

    def next_timer(self, now):
        t = min(self.rekey.next_timer(now), self.keys.next_timer(now))
        if self.multi is not None:
            t = min(t, self.multi.next_timer(now))
        for ch in self._channels.values():
            d = ch.conn.next_deadline_ms()
            if d is not None:
                t = min(t, d)
            if ch.queue and not ch.conn.sending():
                t = min(t, now)  # a busy sender's own deadline is above
        if self.module is not None:
            d = self.module.next_timer(now)
            if d >= 0:
                t = min(t, now + d)
        return t

    def pop_frames(self):
        out = self._out
        self._out = []
        return out

    # What the rekey roles use.

    def pdu(self, name):
        for p in self.pdus:
            if p.name == name:
                return p
        raise KeyError(name)

    def event(self, now, kind, detail=None):
        if len(self.events) < _MAX_EVENTS:
            self.events.append((now, kind, detail))
        else:
            self.dropped_events += 1

    def count(self, reason):
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def unicast(self, node, msg, now):
        # Queues an ISO-TP message to `node` (the master is node 0).
        rx_id = to_master_id(node) if self.role == "master" else to_slave_id(self.node)
        ch = self._channel(rx_id)
        if len(ch.queue) >= _MAX_QUEUED:
            ch.queue.pop(0)  # a retry supersedes what is still waiting
        ch.queue.append(msg)

    def sends_in_use(self):
        # ISO-TP transfers we are sending or have queued. Channels that only
        # receive do not count: anyone can open those with a forged frame.
        n = 0
        for ch in self._channels.values():
            if ch.sending():
                n += 1
        return n

    def broadcast(self, can_id, data):
        self._out.append((can_id, bytes(data), self.tx_dl > 8))

    def _drain_all(self, now):
        for ch in list(self._channels.values()):
            self._drain(ch, now)

    def _sync(self, now):
        frame = self.multi.poll(now)
        if frame is not None:
            self._out.append((self.multi.can_id, frame, False))

    def _drain(self, ch, now):
        if ch.queue and not ch.conn.sending():
            ch.conn.send(ch.queue.pop(0), now)
        for frame in ch.conn.poll(now):
            self._out.append((ch.tx_id, bytes(frame), ch.tx_dl > 8))
        if not ch.queue and ch.conn.next_deadline_ms() is None:
            del self._channels[ch.rx_id]  # idle: give its buffers back

    def _channel(self, rx_id):
        ch = self._channels.get(rx_id)
        if ch is None:
            tx_id, max_rx = self.links[rx_id]
            ch = self._channels[rx_id] = _Channel(rx_id, tx_id, max_rx, self.tx_dl)
        return ch

    def _verify(self, pdu, data, now):
        rx = pdu.rx
        reason = rx.verify(data, len(data))
        if reason:
            self.count(secoc.REASONS[reason])
            return reason
        self.verified += 1
        if rx.used_alt:
            if self.keys.pending is not None:
                # Only senders that activated use the pending key.
                self.rekey.on_implicit_activation(now)
        else:
            if self.keys.current is not None:
                self.keys.current.frames += 1
            if rx.fv > pdu.high_fv and pdu.multi is None:
                pdu.high_fv = rx.fv
        if self.on_payload is not None:
            self.on_payload(pdu, memoryview(data)[rx.payload_off:rx.payload_off + rx.payload_len])
        return 0

    def _module_results(self, now):
        while True:
            result = self.module.next_result()
            if result is None:
                return
            self.rekey.on_key(result, now)
            self._drain_all(now)  # an ANNOUNCE or an answer goes at once
