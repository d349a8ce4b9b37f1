# Stocking a vehicle at the depot over ETSI GS QKD 014: the vehicle is an
# SAE of the depot's KME; for each peer (a roadside unit's SAE ID, or any
# SAE it will share keys with) it asks enc_keys and adds the keys to the
# gateway's stock (keyagent.keystore.store.KeyStore), tagged with the peer.
# The depot's KME relays each key to the peer's KME.
import base64
import http.client
import json
import ssl
import uuid


class StockingError(Exception):
    """The KME refused: .status is the HTTP code, str() the ETSI message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def client_context(ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    return ctx


def stock_vehicle(store, host, port, ctx, peers, per_peer, timeout=10.0):
    """Fill `store` with `per_peer` keys for each of `peers` from the KME at
    host:port (ctx: the vehicle SAE's TLS client context). Returns {peer:
    keys added}; a peer the KME refuses (no path, alarm, short of key) gets
    0 and its refusal in the second value: ({peer: n}, {peer: StockingError})."""
    added, refused = {}, {}
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)
    try:
        for peer in peers:
            conn.request("GET", "/api/v1/keys/%s/enc_keys?number=%d&size=256" % (peer, per_peer))
            resp = conn.getresponse()
            doc = json.loads(resp.read())
            if resp.status != 200:
                added[peer] = 0
                refused[peer] = StockingError(resp.status, doc.get("message", "refused"))
                continue
            n = 0
            for entry in doc["keys"]:
                key = bytearray(base64.b64decode(entry["key"], validate=True))
                if store.add(peer, uuid.UUID(entry["key_ID"]).bytes, key):
                    n += 1
                for i in range(len(key)):
                    key[i] = 0
            added[peer] = n
    finally:
        conn.close()
    return added, refused
