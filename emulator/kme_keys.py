# Where an ETSI GS QKD 014 server (emulator.kme_rest) gets its keys: a key
# source answers the three calls for an authenticated caller, and decides
# who may make them. Two sources exist: PairKeys here (one module pair, one
# master SAE on end A and one slave SAE on end B) and a node of the key
# network (emulator.key_network_kme). Every key a source hands out is bound
# to the (master SAE, slave SAE) pair it was issued for: the slave fetches it
# by ID, nobody else can, and keys drawn over the modules' UART ends (the
# in-vehicle pool) are not reachable over REST at all.
#
# A source raises RestError for the HTTP answer; emulator.qkd_errors
# refusals are mapped by etsi_error().
from emulator import qkd_errors as err


class RestError(Exception):
    """An HTTP error answer: status code, Error message, optional details."""

    def __init__(self, code, message, details=None):
        super().__init__(message)
        self.code = code
        self.details = details


def etsi_error(e):
    """The RestError for a QkdError: 400 for an unknown key ID or an
    impossible request, 503 for a short pool, a link down or in alarm."""
    code = 400 if isinstance(e, (err.KeyNotFound, err.QosNotMet)) else 503
    return RestError(code, str(e), [{"etsi_qkd_004_status": e.status}])


def rest_binding(master_sae, slave_sae):
    """The pool label of keys issued over REST to this SAE pair."""
    return ("rest", master_sae, slave_sae)


class PairKeys:
    """One ModulePair behind a KME serving two SAEs: the master draws from
    end A, the slave fetches from end B."""

    def __init__(self, pair, master_sae, slave_sae, source_kme_id="KME_A", target_kme_id="KME_B"):
        if master_sae == slave_sae:
            raise ValueError("master and slave SAE IDs must differ")
        self.pair = pair
        self.master_sae = master_sae
        self.slave_sae = slave_sae
        self.source_kme_id = source_kme_id
        self.target_kme_id = target_kme_id
        self.binding = rest_binding(master_sae, slave_sae)

    @property
    def max_keys_per_request(self):
        return self.pair.max_keys_per_request

    def authorise(self, call, caller, sae_in_path):
        """Raise RestError unless `caller` may make `call` naming sae_in_path."""
        if call == "status":
            if caller not in (self.master_sae, self.slave_sae):
                raise RestError(401, "this certificate's SAE is not served by this KME")
            if sae_in_path not in (self.master_sae, self.slave_sae) or sae_in_path == caller:
                raise RestError(400, "unknown SAE ID in the path")
        elif call == "enc_keys":
            _authorise(caller, self.master_sae, sae_in_path, self.slave_sae, "master")
        else:
            _authorise(caller, self.slave_sae, sae_in_path, self.master_sae, "slave")

    def status(self, caller, peer_sae):
        st = self.pair.status("A" if caller == self.master_sae else "B")
        return status_document(self.source_kme_id, self.target_kme_id, self.master_sae, self.slave_sae, st)

    def enc_keys(self, caller, slave_sae, number, size):
        size = self.pair.key_size if size is None else size
        try:
            return self.pair.take_new_keys("A", number, size, self.binding)
        except err.QkdError as e:
            raise etsi_error(e) from None

    def dec_keys(self, caller, master_sae, key_ids):
        try:
            return self.pair.take_keys_by_id("B", key_ids, self.binding)
        except err.QkdError as e:
            raise etsi_error(e) from None


def _authorise(caller, role_sae, sae_in_path, peer_sae, role):
    if caller != role_sae:
        raise RestError(401, "this certificate's SAE may not call as %s here" % role)
    if sae_in_path != peer_sae:
        raise RestError(400, "unknown SAE ID in the path")


def status_document(source_kme, target_kme, master_sae, slave_sae, st):
    """ETSI 014 Status from a ModulePair-style status dict `st`."""
    return {
        "source_KME_ID": source_kme,
        "target_KME_ID": target_kme,
        "master_SAE_ID": master_sae,
        "slave_SAE_ID": slave_sae,
        "key_size": st["key_size"],
        "stored_key_count": st["stored_key_count"],
        "max_key_count": st["max_key_count"],
        "max_key_per_request": st["max_keys_per_request"],
        "max_key_size": st["max_key_size"],
        "min_key_size": st["min_key_size"],
        "max_SAE_ID_count": 0,
        "status_extension": {
            "qber": st["qber"],
            "secret_key_rate_bps": st["secret_key_rate_bps"],
            "alarm": st["alarm"],
            "link_state": st["link_state"],
        },
    }
