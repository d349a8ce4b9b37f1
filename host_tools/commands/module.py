# `qkd-secoc module certs|serve`: the emulated QKD optical module pair.
# `certs` makes a test PKI for the ETSI GS QKD 014 server; `serve` runs the
# pair in real time and serves its ends: the UART ends (pty / TCP,
# emulator.module_uart_server) and ETSI 014 REST with mutual TLS. `console`
# is host_tools.commands.module_console.
import argparse
import os
import sys

from host_tools.args import fraction, host_port, int_in, non_negative, port, positive_int
from host_tools.errors import UserError

EPILOG = """examples:
  qkd-secoc module certs pki --sae roadside-1 --sae vehicle-7
  qkd-secoc module serve --km 40 --rest-port 8443 --certs pki \\
      --master-sae roadside-1 --slave-sae vehicle-7
  curl --cacert pki/ca.crt --cert pki/roadside-1.crt --key pki/roadside-1.key \\
      'https://localhost:8443/api/v1/keys/vehicle-7/enc_keys?number=1&size=256'

The master SAE draws keys from module end A, the slave SAE from end B. Keys
drawn over REST are bound to that SAE pair and keys drawn over the UART to
the UART ends: neither can fetch the other's by ID.
"""

CERTS_EPILOG = """example:
  qkd-secoc module certs pki --sae roadside-1 --sae vehicle-7

writes pki/ca.crt, pki/kme.crt, pki/kme.key (for 127.0.0.1 and localhost)
and pki/ID.crt, pki/ID.key per SAE (certificate CN = SAE ID). Private keys
are unencrypted, mode 0600: a test PKI, not for production.
"""

SERVE_EPILOG = """examples:
  qkd-secoc module serve --rest-port 8443 --certs pki --master-sae roadside-1 --slave-sae vehicle-7
  qkd-secoc module serve --km 60 --eavesdrop 0.5 --duration 10 --rest-port 0 --certs pki \\
      --master-sae roadside-1 --slave-sae vehicle-7

Stops on Ctrl-C (or SIGTERM, or after --duration seconds).
"""


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "module", help="emulated QKD module pair: test certificates, serve its ends",
        description="The emulated QKD optical module pair: a physical link model (decoy-state "
                    "BB84), a shared key pool, UART ends and an ETSI GS QKD 014 REST server.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    certs = actions.add_parser(
        "certs", help="make a test CA, the KME certificate and one certificate per SAE",
        description="Make a test PKI for `module serve --rest-port`.",
        epilog=CERTS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    certs.add_argument("dir", metavar="DIR", help="directory to write the certificates into")
    certs.add_argument("--sae", action="append", required=True, metavar="ID",
                       help="an SAE ID (repeat for each SAE)")
    certs.add_argument("--force", action="store_true", help="replace an existing DIR/ca.crt")
    certs.set_defaults(func=run_certs)

    serve = actions.add_parser(
        "serve", help="run the module pair and serve its ends",
        description="Run the emulated module pair in real time: the pool fills at the modelled "
                    "secret key rate. Prints where each end is.",
        epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    link = serve.add_argument_group("link model")
    link.add_argument("--km", type=non_negative, default=25.0, help="fibre length in km (default 25)")
    link.add_argument("--loss-db-per-km", type=non_negative, default=0.2, help="fibre loss (default 0.2)")
    link.add_argument("--detector-efficiency", type=fraction, default=0.10,
                      help="Bob's optics and detector efficiency (default 0.10)")
    link.add_argument("--dark-count-prob", type=fraction, default=1.7e-6,
                      help="dark counts per pulse, Y0 (default 1.7e-6)")
    link.add_argument("--misalignment-error", type=fraction, default=0.033,
                      help="optical misalignment error (default 0.033)")
    link.add_argument("--ec-efficiency", type=non_negative, default=1.22,
                      help="error correction inefficiency f >= 1 (default 1.22)")
    link.add_argument("--pulse-rate-hz", type=non_negative, default=100e6, help="pulse rate (default 1e8)")
    link.add_argument("--mu", type=non_negative, default=None,
                      help="mean photon number of the signal state (default: the optimum)")
    link.add_argument("--eavesdrop", type=fraction, default=0.0, metavar="FRACTION",
                      help="intercept-resend on this fraction of pulses (QBER + FRACTION/4)")
    pool = serve.add_argument_group("key pool")
    pool.add_argument("--max-keys", type=positive_int, default=1000, help="pool size in keys (default 1000)")
    pool.add_argument("--key-size", type=positive_int, default=256, help="default key size in bits (default 256)")
    pool.add_argument("--prefill", action="store_true", help="start with a full pool")
    pool.add_argument("--seed", type=int, default=None,
                      help="reproducible key IDs and keys (tests only: seeded keys are predictable)")
    rest = serve.add_argument_group("ETSI GS QKD 014 REST (HTTPS, mutual TLS)")
    rest.add_argument("--rest-port", type=port, default=None, metavar="PORT",
                      help="serve REST on 127.0.0.1:PORT (0: any free port)")
    rest.add_argument("--certs", metavar="DIR", help="directory from `module certs`")
    rest.add_argument("--master-sae", metavar="ID", help="SAE allowed to call enc_keys (end A)")
    rest.add_argument("--slave-sae", metavar="ID", help="SAE allowed to call dec_keys (end B)")
    from host_tools.commands.module_console import add_console_parser

    add_uart_arguments(serve.add_argument_group("UART ends"))
    serve.add_argument("--duration", type=non_negative, default=None, metavar="SECONDS",
                       help="stop after this many seconds (default: run until Ctrl-C)")
    serve.set_defaults(func=run_serve)

    add_console_parser(actions)


def run_certs(args):
    from emulator.certs import check_sae_id, make_certs

    for sae_id in args.sae:
        try:
            check_sae_id(sae_id)
        except ValueError as e:
            raise UserError(str(e)) from None
    if len(set(args.sae)) != len(args.sae):
        raise UserError("each --sae must be different")
    if os.path.exists(os.path.join(args.dir, "ca.crt")) and not args.force:
        raise UserError("%s already exists (use --force to replace the whole PKI)"
                        % os.path.join(args.dir, "ca.crt"))
    try:
        paths = make_certs(args.dir, args.sae)
    except OSError as e:
        raise UserError("cannot write to %s: %s" % (args.dir, e.strerror)) from None
    print("CA:  %s" % paths["ca"])
    print("KME: %s %s (127.0.0.1, localhost)" % (paths["kme_cert"], paths["kme_key"]))
    for sae_id in args.sae:
        print("SAE %s: %s %s" % (sae_id, paths[sae_id + ".crt"], paths[sae_id + ".key"]))
    return 0


def _rest_files(args):
    if args.certs is None or args.master_sae is None or args.slave_sae is None:
        raise UserError("--rest-port needs --certs, --master-sae and --slave-sae")
    if args.master_sae == args.slave_sae:
        raise UserError("--master-sae and --slave-sae must differ")
    files = [os.path.join(args.certs, name) for name in ("ca.crt", "kme.crt", "kme.key")]
    for path in files:
        if not os.path.isfile(path):
            raise UserError("%s not found (make it with `qkd-secoc module certs %s --sae ...`)"
                            % (path, args.certs))
    return files


def _make_pair(args):
    import time

    from emulator.qkd_link import LinkParams
    from emulator.qkd_pair import ModulePair

    link = LinkParams(km=args.km, loss_db_per_km=args.loss_db_per_km,
                      detector_efficiency=args.detector_efficiency, dark_count_prob=args.dark_count_prob,
                      misalignment_error=args.misalignment_error, ec_efficiency=args.ec_efficiency,
                      pulse_rate_hz=args.pulse_rate_hz, mu=args.mu, eavesdrop_fraction=args.eavesdrop)
    try:
        pair = ModulePair(link, max_key_count=args.max_keys, key_size=args.key_size,
                          max_key_size=max(8192, args.key_size), seed=args.seed, clock=time.monotonic)
    except ValueError as e:
        raise UserError(str(e)) from None
    if args.prefill:
        pair.fill()
    return pair


def add_uart_arguments(parser):
    """The `module serve` options that place the UART ends."""
    parser.add_argument("--pty", action="store_true", help="serve each end on a pseudo-terminal")
    # End B listens on PORT+1, so PORT stops at 65534.
    parser.add_argument("--uart-tcp", type=int_in(0, 65534), metavar="PORT", default=None,
                        help="serve end A on 127.0.0.1:PORT and end B on PORT+1 (0: any free ports)")
    parser.add_argument("--uart-connect", type=host_port, metavar="HOST:PORT", default=None,
                        help="end A dials out to a TCP server that is the master's UART "
                             "(e.g. a Renode server socket terminal)")


def serve_ends(pair, args, out=None):
    """Starts serving the pair's ends as `args` asks (args.pty, args.uart_tcp,
    args.uart_connect), prints where each end is, and returns the running
    ModuleUartServer (call .stop() to shut it down)."""
    from emulator.module_uart_server import ModuleUartServer

    tcp_port = getattr(args, "uart_tcp", None)
    connect = getattr(args, "uart_connect", None)
    try:
        server = ModuleUartServer(pair, use_pty=getattr(args, "pty", False), tcp_port=tcp_port,
                                  connect=connect)
    except OSError as e:
        where = "%s:%d" % connect if connect and tcp_port is None else "127.0.0.1:%s" % tcp_port
        raise UserError("cannot serve the UART ends on %s: %s" % (where, e.strerror or e)) from None
    server.start()
    out = out or sys.stdout
    for line in server.describe():
        print(line, file=out, flush=True)
    return server


def describe_pair(pair):
    st = pair.status()
    link = pair.link
    return ("module pair: %.1f km at %.2f dB/km, mu %.3f, QBER %.2f %%, secret key rate %.0f bit/s, "
            "link %s, pool %d/%d keys of %d bits"
            % (link.km, link.loss_db_per_km, st["mu"], 100 * st["qber"], st["secret_key_rate_bps"],
               st["link_state"], st["stored_key_count"], st["max_key_count"], st["key_size"]))


def run_serve(args, out=None):
    out = out or sys.stdout
    want_uart = args.pty or args.uart_tcp is not None or args.uart_connect is not None
    if args.rest_port is None and not want_uart:
        raise UserError("nothing to serve: give --rest-port (and --certs, --master-sae, --slave-sae)"
                        " and/or --pty, --uart-tcp or --uart-connect")
    rest_files = _rest_files(args) if args.rest_port is not None else None
    pair = _make_pair(args)
    print(describe_pair(pair), file=out, flush=True)
    running = []
    try:
        if want_uart:
            running.append(serve_ends(pair, args, out))
        if rest_files is not None:
            running.append(_start_rest(pair, args, rest_files, out))
        wait_until_stopped(args.duration, out)
    finally:
        for server in reversed(running):
            server.stop()
    st = pair.status()
    print("stopped: %d keys issued, %d fetched by ID, %d keys in the pool"
          % (pair.counters["keys_new"], pair.counters["keys_by_id"], st["stored_key_count"]),
          file=out, flush=True)
    return 0


def _start_rest(pair, args, files, out):
    import ssl

    from emulator.kme_rest import KmeServer

    try:
        server = KmeServer(pair, *files, master_sae=args.master_sae, slave_sae=args.slave_sae,
                           port=args.rest_port)
    except ssl.SSLError as e:
        raise UserError("cannot use the certificates in %s: %s" % (args.certs, e.reason or e)) from None
    except OSError as e:
        raise UserError("cannot serve on 127.0.0.1:%d: %s" % (args.rest_port, e.strerror)) from None
    server.start()
    print("ETSI 014 KME: https://localhost:%d/api/v1/keys/{SAE_ID}/(status|enc_keys|dec_keys)"
          % server.port, file=out)
    print("  master SAE %s (end A), slave SAE %s (end B), CA %s"
          % (args.master_sae, args.slave_sae, files[0]), file=out, flush=True)
    return server


def wait_until_stopped(duration, out):
    import signal
    import threading
    import time

    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("serving for %g s" % duration if duration is not None else "serving until Ctrl-C",
          file=out, flush=True)
    deadline = None if duration is None else time.monotonic() + duration
    try:
        while not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            stop.wait(0.5 if left is None else min(0.5, left))
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
