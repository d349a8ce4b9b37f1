# The stock as a key source for the gateway's rekey master: the same face
# as the optical module's client (keyagent.optical.client.ModuleClient) that
# the agent and the master already drive (get_new_key, next_result, timers,
# no bytes), so a vehicle without in-car QKD hardware takes its SecOC epoch
# keys from keys stocked at the depot, with no change to the master. Pass it
# to KeyAgent as its module.
from keyagent.optical import link as ml
from keyagent.optical.messages import Result
from keyagent.keystore.store import KEY_LEN

SECOC_PEER = "secoc"  # the stock's tag for the vehicle's own SecOC epoch keys


class StockKeySource:
    def __init__(self, store, peer=SECOC_PEER, persist=None):
        # persist(image bytes) saves the store before a key leaves it
        # (None: the caller persists store.image() itself).
        self.store = store
        self.peer = peer
        self.persist = persist
        self._seq = 0
        self._results = []

    def get_new_key(self, now, bits):
        self._seq = (self._seq + 1) & 0xFF
        if bits != 8 * KEY_LEN:
            self._results.append(Result(ml.GET_NEW_KEY, self._seq, ml.QOS_NOT_MET))
            return self._seq
        r = Result(ml.GET_NEW_KEY, self._seq, ml.INSUFFICIENT_KEY)
        taken = self.store.take(self.peer)
        if taken is not None:
            if self.persist is not None:
                self.persist(self.store.image())  # consumed on flash before it is used
            r.status = ml.SUCCESS
            r.key_id, r.key = taken
        self._results.append(r)
        return self._seq

    def get_key_by_id(self, now, key_id):
        # Slaves get stocked epochs through SHE DELIVER, never by ID.
        self._seq = (self._seq + 1) & 0xFF
        self._results.append(Result(ml.GET_KEY_BY_ID, self._seq, ml.KEY_ID_UNKNOWN))
        return self._seq

    def next_result(self):
        return self._results.pop(0) if self._results else None

    def receive_data(self, data):
        pass  # no wire

    def data_to_send(self):
        return b""

    def handle_timers(self, now):
        pass

    def next_timer(self, now):
        return 0 if self._results else -1  # a result is ready at once
