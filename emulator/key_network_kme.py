# The ETSI GS QKD 014 face of the key network: one KmeServer (mutual TLS) per
# KME on 127.0.0.1, each answering for the SAEs that KME serves. A master SAE
# calls enc_keys naming any SAE of the network as slave; the key is relayed
# to the slave's KME, where only that slave, naming that master, can fetch
# it by ID with dec_keys. Everyone else gets the ETSI Error: 401 for an SAE
# this KME does not serve, 400 for a key ID unknown to the caller's pair.
from emulator import qkd_errors as err
from emulator.kme_keys import RestError, etsi_error, status_document
from emulator.key_network import MAX_KEYS_PER_REQUEST


class NodeKeys:
    """The key source of KME `kme` in `network` (an emulator.key_network.KeyNetwork)."""

    max_keys_per_request = MAX_KEYS_PER_REQUEST

    def __init__(self, network, kme):
        self.network = network
        self.kme = kme

    def authorise(self, call, caller, sae_in_path):
        net = self.network
        if net.kme_of.get(caller) != self.kme:
            raise RestError(401, "this certificate's SAE is not served by this KME")
        if sae_in_path not in net.kme_of or sae_in_path == caller:
            raise RestError(400, "unknown SAE ID in the path")

    def status(self, caller, peer_sae):
        net = self.network
        target = net.kme_of[peer_sae]
        path = net.path(self.kme, target) or [self.kme, target]
        links = [net.link(u, v).status(u) for u, v in zip(path, path[1:])]
        st = {"key_size": net.key_size, "min_key_size": 64, "max_key_size": 8192,
              "max_keys_per_request": MAX_KEYS_PER_REQUEST, "max_key_count": net.max_keys,
              "stored_key_count": min([s["stored_key_count"] for s in links] or [net.max_keys]),
              "qber": max([s["qber"] for s in links] or [0.0]),
              "secret_key_rate_bps": min([s["secret_key_rate_bps"] for s in links] or [0.0]),
              "alarm": any(s["alarm"] for s in links),
              "link_state": "up" if net.path(self.kme, target) else "no_path"}
        return status_document(self.kme, target, caller, peer_sae, st)

    def enc_keys(self, caller, slave_sae, number, size):
        try:
            return self.network.issue(caller, slave_sae, number, size)[0]
        except err.QkdError as e:
            raise etsi_error(e) from None

    def dec_keys(self, caller, master_sae, key_ids):
        try:
            return self.network.fetch(master_sae, caller, key_ids)
        except err.QkdError as e:
            raise etsi_error(e) from None


def serve_network(network, pki, host="127.0.0.1", ports=None):
    """Start one KmeServer per KME; pki: emulator.certs.make_certs paths.
    ports: {kme: port} (default: any free port). Returns {kme: server}."""
    from emulator.kme_rest import KmeServer

    servers = {}
    try:
        for kme in network.kmes:
            port = (ports or {}).get(kme, 0)
            servers[kme] = KmeServer(None, pki["ca"], pki["kme_cert"], pki["kme_key"], host=host, port=port,
                                     keys=NodeKeys(network, kme)).start()
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers
