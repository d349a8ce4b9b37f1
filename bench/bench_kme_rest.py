# ETSI GS QKD 014 key delivery over mutual TLS on loopback: keys per second
# and p99 latency of one enc_keys call (one 256-bit key each), on one reused
# HTTPS connection, against a pool that never runs dry. Bounded: N_CALLS.
import http.client
import json
import os
import ssl
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emulator.certs import make_certs  # noqa: E402
from emulator.kme_rest import KmeServer  # noqa: E402
from emulator.qkd_pair import ModulePair  # noqa: E402

N_WARMUP = 50
N_CALLS = 2000


def main():
    with tempfile.TemporaryDirectory() as d:
        pki = make_certs(d, ["master", "slave"])
        pair = ModulePair(max_key_count=N_WARMUP + N_CALLS, seed=1)
        pair.fill()
        server = KmeServer(pair, pki["ca"], pki["kme_cert"], pki["kme_key"], "master", "slave").start()
        try:
            ctx = ssl.create_default_context(cafile=pki["ca"])
            ctx.load_cert_chain(pki["master.crt"], pki["master.key"])
            conn = http.client.HTTPSConnection("localhost", server.port, context=ctx, timeout=10)
            path = "/api/v1/keys/slave/enc_keys?number=1&size=256"
            latencies = []
            for i in range(N_WARMUP + N_CALLS):
                t0 = time.perf_counter()
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                t1 = time.perf_counter()
                if resp.status != 200 or len(json.loads(body)["keys"]) != 1:
                    raise SystemExit("unexpected answer %d" % resp.status)
                if i >= N_WARMUP:
                    latencies.append(t1 - t0)
            conn.close()
        finally:
            server.stop()
    total = sum(latencies)
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    print("BENCH kme_rest_keys_per_s %.0f keys/s" % (len(latencies) / total))
    print("BENCH kme_rest_p99_ms %.2f ms" % (p99 * 1000.0))


if __name__ == "__main__":
    main()
