# ETSI GS QKD 014 V1.1.1 ("Protocol and data format of REST-based key
# delivery API") over HTTPS with mutual TLS. The keys come from a key source
# (emulator.kme_keys): one ModulePair with a master SAE on end A and a slave
# SAE on end B, or a node of the key network. Every key is bound to the SAE
# pair it was issued for; keys drawn over the modules' UART ends are not
# reachable here.
#
#   GET  /api/v1/keys/{slave_SAE_ID}/status      Status         (caller: master or slave)
#   GET  /api/v1/keys/{slave_SAE_ID}/enc_keys    ?number=&size= (caller: master)
#   POST /api/v1/keys/{slave_SAE_ID}/enc_keys    Key request    (caller: master)
#   GET  /api/v1/keys/{master_SAE_ID}/dec_keys   ?key_ID=       (caller: slave)
#   POST /api/v1/keys/{master_SAE_ID}/dec_keys   Key IDs        (caller: slave)
#
# The caller is the common name of its client certificate, which must chain
# to the configured CA (checked in the TLS handshake). Answers: 200 with
# Status or Key container JSON; 400 Error for bad requests, key IDs unknown
# to the caller's SAE pair and unsupported sizes; 401 Error when the
# certificate's SAE may not make that call; 503 Error when the pool is short
# or the link is down or in alarm. Request bodies, header sizes and idle
# time are bounded; no key is ever logged.
#
# Connections: a TLS handshake must finish within HANDSHAKE_TIMEOUT_S, and at
# most MAX_HANDSHAKES wait for one; a new connection beyond that evicts the
# oldest waiting one, so silent TCP connections cannot hold the server.
# After the handshake, at most MAX_CONNECTIONS in all and
# MAX_CONNECTIONS_PER_SAE per client certificate.
import base64
import json
import socket
import ssl
import threading
import uuid
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from emulator.kme_keys import PairKeys, RestError

API_PREFIX = "/api/v1/keys/"
MAX_BODY = 64 * 1024  # bytes; a Key IDs body for 128 UUIDs is under 8 KiB
MAX_CONNECTIONS = 64
MAX_CONNECTIONS_PER_SAE = 8
MAX_HANDSHAKES = 16
IDLE_TIMEOUT_S = 30.0
HANDSHAKE_TIMEOUT_S = 3.0


def server_context(ca_path, cert_path, key_path):
    """The server's TLS context: TLS >= 1.2, client certificate required
    and verified against ca_path."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)
    ctx.load_verify_locations(cafile=ca_path)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _common_name(peercert):
    for rdn in (peercert or {}).get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return value
    return None


def _parse_key_id(text):
    if not isinstance(text, str) or len(text) > 64:
        raise RestError(400, "key_ID must be a UUID string")
    try:
        return uuid.UUID(text).bytes
    except ValueError:
        raise RestError(400, "key_ID must be a UUID string") from None


def _parse_int(value, name, from_query):
    # Query values are text; JSON values must be integers (bool is an int in Python: refuse it).
    if from_query and isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    if not from_query and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise RestError(400, "%s must be a positive integer" % name)


class KmeServer(ThreadingHTTPServer):
    """The KME. pair: a ModulePair; master_sae / slave_sae: the SAE IDs
    allowed to call as master (side A) and slave (side B). Or keys: any key
    source (emulator.kme_keys), with pair None. port 0 picks a free port
    (see .port). start() serves in a thread; stop() ends it."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, pair, ca_path, cert_path, key_path, master_sae=None, slave_sae=None,
                 host="127.0.0.1", port=0, source_kme_id="KME_A", target_kme_id="KME_B", keys=None):
        if keys is None:
            keys = PairKeys(pair, master_sae, slave_sae, source_kme_id, target_kme_id)
        self.keys = keys
        self.pair = pair
        self.tls = server_context(ca_path, cert_path, key_path)
        self.counters = {"requests": 0, "tls_refused": 0, "busy_refused": 0, "handshakes_evicted": 0,
                         "errors_4xx": 0, "errors_5xx": 0, "keys_out": 0}
        self._lock = threading.Lock()
        self._handshaking = OrderedDict()  # socket -> None, oldest first
        self._per_sae = {}  # SAE ID -> open connections
        self._thread = None
        super().__init__((host, port), _Handler)

    @property
    def port(self):
        return self.server_address[1]

    def count(self, name, n=1):
        with self._lock:
            self.counters[name] += n

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="kme-rest", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:  # shutdown() would wait forever for a loop never started
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()

    # One thread per connection; the TLS handshake runs in that thread so a
    # slow client cannot stall accept(), and the oldest waiting handshake
    # makes room for a new one.
    def process_request(self, request, client_address):
        with self._lock:
            self._handshaking[request] = None
            evict = None
            if len(self._handshaking) > MAX_HANDSHAKES:
                evict = next(iter(self._handshaking))
                del self._handshaking[evict]
                self.counters["handshakes_evicted"] += 1
        if evict is not None:
            _abort(evict)  # its thread's handshake fails and ends
        super().process_request(request, client_address)

    def finish_request(self, request, client_address):
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            tls = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.count("tls_refused")
            return
        finally:
            with self._lock:
                self._handshaking.pop(request, None)
        sae = _common_name(tls.getpeercert())
        if not self._open_slot(sae):
            self.count("busy_refused")
            _abort(tls)
            return
        try:
            tls.settimeout(IDLE_TIMEOUT_S)
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ValueError):
            pass  # the client went away or sent something http.server gave up on
        finally:
            self._close_slot(sae)
            try:
                tls.close()
            except OSError:
                pass

    def _open_slot(self, sae):
        with self._lock:
            held = self._per_sae.get(sae, 0)
            if held >= MAX_CONNECTIONS_PER_SAE or sum(self._per_sae.values()) >= MAX_CONNECTIONS:
                return False
            self._per_sae[sae] = held + 1
            return True

    def _close_slot(self, sae):
        with self._lock:
            self._per_sae[sae] -= 1
            if not self._per_sae[sae]:
                del self._per_sae[sae]

    def shutdown_request(self, request):
        with self._lock:
            self._handshaking.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        self.count("errors_5xx")  # never print tracebacks with request data


def _abort(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse the connection
    server_version = "qkd-secoc-KME/1"
    sys_version = ""

    def send_error(self, code, message=None, explain=None):
        # http.server's own refusals (bad request line, headers too long):
        # an ETSI Error body instead of its HTML page, then close.
        self.close_connection = True
        self.request_version = self.protocol_version  # no HTTP/0.9 bare bodies
        try:
            self._send(code, {"message": message or "bad request"})
        except OSError:
            pass

    def log_message(self, fmt, *args):
        pass  # quiet; paths carry key IDs, never keys, but keep stderr clean

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        server = self.server
        server.count("requests")
        try:
            body = self._read_body(method)
            code, doc = self._route(method, body)
        except RestError as e:
            code, doc = e.code, {"message": str(e)}
            if e.details:
                doc["details"] = e.details
        except Exception:  # a bug must not take the server down or leak data
            code, doc = 500, {"message": "internal error"}
        if 400 <= code < 500:
            server.count("errors_4xx")
        elif code >= 500:
            server.count("errors_5xx")
        self._send(code, doc)

    def _send(self, code, doc):
        data = json.dumps(doc, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        # Head and body in one write: one TLS record, no Nagle/delayed-ACK stall.
        self._headers_buffer.append(b"\r\n" + data)
        self.flush_headers()

    def _read_body(self, method):
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise RestError(400, "chunked request bodies are not supported: send Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            if method == "POST":
                raise RestError(400, "POST needs a Content-Length")
            return b""
        if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY:
            self.close_connection = True  # we will not read it: drop the connection after answering
            raise RestError(400, "request body larger than %d bytes" % MAX_BODY)
        return self.rfile.read(int(length))

    def _route(self, method, body):
        split = urlsplit(self.path)
        if not split.path.startswith(API_PREFIX):
            raise RestError(404, "no such resource")
        parts = split.path[len(API_PREFIX):].split("/")
        if len(parts) != 2 or parts[1] not in ("status", "enc_keys", "dec_keys"):
            raise RestError(404, "no such resource")
        sae_in_path, call = unquote(parts[0]), parts[1]
        allowed = ("GET",) if call == "status" else ("GET", "POST")
        if method not in allowed:
            raise RestError(405, "method %s not allowed on %s" % (method, call))
        query = self._query(split.query)
        caller = _common_name(self.connection.getpeercert())
        keys = self.server.keys
        keys.authorise(call, caller, sae_in_path)
        if call == "status":
            return 200, keys.status(caller, sae_in_path)
        if call == "enc_keys":
            return self._enc_keys(caller, sae_in_path, query if method == "GET" else self._json(body),
                                  method == "GET")
        return self._dec_keys(caller, sae_in_path, query if method == "GET" else self._json(body), method)

    def _query(self, text):
        try:
            fields = parse_qs(text, strict_parsing=False, max_num_fields=8)
        except ValueError:
            raise RestError(400, "too many query parameters") from None
        out = {}
        for name, values in fields.items():
            if len(values) != 1:
                raise RestError(400, "query parameter %s given more than once" % name)
            out[name] = values[0]
        return out

    def _json(self, body):
        try:
            doc = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise RestError(400, "request body is not valid JSON") from None
        if not isinstance(doc, dict):
            raise RestError(400, "request body must be a JSON object")
        return doc

    def _enc_keys(self, caller, slave_sae, request, from_query):
        number = _parse_int(request["number"], "number", from_query) if "number" in request else 1
        size = _parse_int(request["size"], "size", from_query) if "size" in request else None
        if request.get("additional_slave_SAE_IDs"):
            raise RestError(400, "key multicast is not supported (max_SAE_ID_count is 0)")
        if request.get("extension_mandatory"):
            raise RestError(400, "mandatory extensions are not supported",
                            [{"extension_mandatory": "not supported"}])
        if size is not None and size % 8:
            raise RestError(400, "size must be a multiple of 8 bits")
        keys = self.server.keys.enc_keys(caller, slave_sae, number, size)
        self.server.count("keys_out", len(keys))
        return 200, {"keys": [{"key_ID": str(uuid.UUID(bytes=key_id)),
                               "key": base64.b64encode(key).decode("ascii")} for key_id, key in keys]}

    def _dec_keys(self, caller, master_sae, request, method):
        if method == "GET":
            if "key_ID" not in request:
                raise RestError(400, "key_ID query parameter missing")
            ids = [_parse_key_id(request["key_ID"])]
        else:
            entries = request.get("key_IDs")
            if not isinstance(entries, list) or not entries:
                raise RestError(400, "key_IDs must be a non-empty array")
            if len(entries) > self.server.keys.max_keys_per_request:
                raise RestError(400, "too many key_IDs")
            ids = []
            for entry in entries:
                if not isinstance(entry, dict):
                    raise RestError(400, "key_IDs entries must be objects with a key_ID")
                ids.append(_parse_key_id(entry.get("key_ID")))
        keys = self.server.keys.dec_keys(caller, master_sae, ids)
        self.server.count("keys_out", len(keys))
        return 200, {"keys": [{"key_ID": str(uuid.UUID(bytes=key_id)),
                               "key": base64.b64encode(key).decode("ascii")} for key_id, key in zip(ids, keys)]}
