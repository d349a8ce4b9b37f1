# The README's examples run, so the README cannot drift from the code.
#
# Every code block of README.md is found (fenced blocks and 4-space indented
# ones). A shell block is run command by command, a Python block as a script,
# in README order, in one scratch directory that links the repository's
# folders (so `out/`, `pki/`, ... land there). A `$ command` line is run and
# its output compared with the lines under it. Commands that would run
# forever or need hardware are in RULES below with their bounded form (the
# rule's `match` must still be in the README: a rule that no longer matches
# fails) or the reason they are not run. A block no rule matches runs as it
# is and must finish with status 0 within DEFAULT_TIMEOUT_S.
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
VENV_BIN = os.path.dirname(sys.executable)
DEFAULT_TIMEOUT_S = 60
LINKED = ("scenarios", "can_dbc", "firmware", "docs", "boards", ".venv", "Makefile", "pyproject.toml",
          "emulator", "host_tools", "tests", "bench")


def rule(match, **kw):
    kw["match"] = match
    return kw


# match: a substring of the snippet; the first matching rule applies.
#   skip: why it is not run      replace: [(README text, bounded text)]
#   background: started, left running until the end (`ready`: a regex its
#     output must show first; its groups become {0}, {1}, ... in later replaces)
#   runtime: "micropython" runs a Python block under the MicroPython unix port
#   expect: a regex the output must contain      check_output: False for an abridged `$` example
#   capture: a regex whose group becomes {captured}      before: a command run first (for capture)
#   stop_background: the background commands are stopped with Ctrl-C first
#   exit_status: the status the command must exit with (default 0)      timeout: seconds (default 60)
RULES = [
    rule("make demo", skip="the 30 s demo (test_cli_emulate runs its command with --duration) and the "
                           "test suite itself"),
    rule("git clone https://github.com/micropython", skip="downloads MicroPython (no network in tests)"),
    rule("make firmware BOARD", skip="needs a MicroPython checkout; test_firmware_build covers the build"),
    rule("qkd-secoc flash NUCLEO", skip="flash and provision need a board; test_cli_flash runs them on a "
                                        "unix-port board"),
    rule("--json out/s.json --trace out/t.asc --plot out/t.png", replace=[(".png", ".png --duration 3")]),
    rule("--inline --trace out/t.blf --export out/run", replace=[("out/run", "out/run --duration 6")]),
    rule("--set rekey.period_ms=2000", replace=[("--inline", "--inline --duration 2")],
         expect=r"rekeys: [1-9]"),
    rule("--inline --seed 3", replace=[("--seed 3", "--seed 3 --duration 2")]),
    rule("micropython firmware/unix_ecu.py --config NODE.json", skip="the synopsis of its options"),
    rule("status node=1 t=1000", skip="sample output"),
    rule("keyagent: boot board=", skip="sample output of a board's console"),
    # the live vehicle: stopped with Ctrl-C once the monitor has watched it
    rule("emulate scenarios/default.toml --bus-port 29536 --export out/live", background=True,
         replace=[("out/live", "out/live --duration 120")],
         ready=r"watch it with:\n  qkd-secoc monitor --port \d+ --config out/live/GATEWAY.json "
               r"--keys out/live/keys.json --dbc can_dbc/vehicle.dbc --dbc can_dbc/keymgmt.dbc\n",
         expect=r"(?s)external 2 \(rejected [1-9]\d*, accepted 0\).*interrupted at t=.*"
                r"external frames: 2 .*mac_mismatch [1-9].*stale_freshness [1-9]"),
    rule("for msg in tool:", background=True, expect=r"Timestamp: .* ID: +0b0 .*DL: +8"),
    rule("python -m can.logger -i qkd_socketcand", background=True,
         expect=r"Timestamp: .* ID: +0a0 +S Rx +F BS +DL: 12"),  # CAN FD frames too
    rule("genuine = msg", expect=r"genuine BrakePedal \w+: ok\nspoof \w+: mac_mismatch\n"
                                 r"replay \w+: stale_freshness\n"),
    rule("server.run_realtime()", background=True, ready="bus server on"),
    rule("qkd-secoc bus serve --port 29538 &", background=True, ready="bus server on"),
    rule("qkd-secoc monitor --port 29536", replace=[("--log out/live.blf", "--log out/live.blf --duration 3")],
         expect=r"BrakePedal .* ok"),
    rule("$ qkd-secoc trace analyze out/t.blf", check_output=False, expect=r"BrakePedal .* ok",
         stop_background=True),
    rule("$ qkd-secoc trace analyze out/mc.blf", check_output=False,
         expect=r"(?m)^6F1 +FvSync +(\d+) +[\d.]+ +\d+ +\1 +0 +0 +0  ok +trip=2 reset=\d+$"
                r"(?s:.*)fv_trip epoch 1 \(trip 1, reset 0, first sync seen\)"),
    rule("$ qkd-secoc mac verify ... --fv 2",
         replace=[("...", "--profile 1 --key 2b7e151628aed2a6abf7158809cf4f3c --data-id 0x123")]),
    rule("qkd-secoc module serve --km 40", background=True, ready="ETSI 014 KME",
         replace=[("--slave-sae vehicle-7", "--slave-sae vehicle-7 --duration 30")]),
    rule("'https://localhost:8443/api/v1/keys/vehicle-7/enc_keys", capture=r'"key_ID": ?"([^"]+)"'),
    rule("key_ID=<key_ID from above>", replace=[("<key_ID from above>", "{captured}")]),
    rule("qkd-secoc module serve --prefill --pty --uart-tcp 7000", background=True,
         replace=[("--uart-tcp 7000", "--uart-tcp 7000 --duration 30")],
         ready=r"module end A: (/dev/pts/\d+)"),
    rule("console /dev/pts/5 get-key --new", replace=[("/dev/pts/5", "{0}")], capture=r"key ID: (\S+)"),
    rule("console /dev/pts/5", replace=[("/dev/pts/5", "{0}")]),
    rule("get-key --id KEY_ID", replace=[("KEY_ID", "{captured}")]),
    rule("ModuleLink(open_port(", runtime="micropython", replace=[('"KEY_ID"', '"{captured}"')],
         before="qkd-secoc module console {0} get-key --new", capture=r"key ID: (\S+)",
         expect="got a key of 32 bytes"),
    rule("layout_for_profile(1, data_id=0x123", runtime="both", expect=r"^11223344[0-9a-f]{8} ok"),
    rule("make model-check", skip="tests/test_model_check.py runs the model (and a broken variant) with spin"),
    # campaigns: a few short runs stand for the README's hundreds
    rule("campaign scenarios/faults.toml --seeds 200", replace=[("--seeds 200", "--seeds 2 --set duration_s=4")],
         expect=r"2 runs in .*, 0 failed", timeout=240),
    rule("campaign scenarios/faults.toml --seeds 4 --set rekey.period_ms=1000,3000",
         replace=[("--seeds 4", "--seeds 1 --set duration_s=4")], expect=r"4 runs in .*, 0 failed", timeout=240),
    rule("dask scheduler --host 127.0.0.1 --port 8786", background=True, ready=r"Scheduler at"),
    rule("dask worker tcp://127.0.0.1:8786", background=True, ready=r"Registered to"),
    rule("--seeds 1000 --scheduler tcp://127.0.0.1:8786", replace=[("--seeds 1000", "--seeds 2 --set duration_s=4")],
         expect=r"2 runs in .*, 0 failed", timeout=240),
    rule("campaign tests/emulator/campaign_short.toml --seeds 6", exit_status=1, timeout=240,
         expect=r"failing runs \(each command reproduces one alone\)"),
    rule("qkd-secoc ota push out/eps-1.1.0.ota", skip="push and info need EPS running with unix_ecu.py --ota "
                                                       "on a live bus; test_cli_ota and test_ota_unix_ecu do that"),
]
PORTS = ("29536", "29537", "29538", "8443", "7000", "8786")  # README ports, each run on a free one


def snippets(text):
    """(line number, kind, text) of every example: kind "shell" (one
    command, continuation lines joined), "transcript" (a `$` command and
    the output under it), "python", "json" or "text"."""
    lines = text.split("\n")
    out = []
    i = 0
    after_blank = True
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if fence:
            j = lines.index("```", i + 1)
            out.append((i + 1, fence.group(1) or "text", "\n".join(lines[i + 1:j])))
            i, after_blank = j + 1, False
            continue
        if after_blank and lines[i].startswith("    ") and lines[i].strip() and \
                not re.match(r"^\s*([-*]|\d+\.)\s", lines[i]):
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                j += 1
            body = [line[4:] for line in lines[i:j]]
            while body and not body[-1].strip():
                body.pop()
            out.extend(_split_block(i + 1, body))
            i, after_blank = j, False
            continue
        after_blank = not lines[i].strip()
        i += 1
    return out


def _split_block(first, body):
    indent = min(len(line) - len(line.lstrip()) for line in body if line.strip())
    body = [line[indent:] for line in body]
    if re.match(r"(from|import) \w", body[0]):
        return [(first, "python", "\n".join(body))]
    if body[0].startswith("$ "):
        out, cmd = [], None
        for n, line in enumerate(body):
            if line.startswith("$ "):
                cmd = [first + n, [line[2:]], []]
                out.append(cmd)
            elif cmd[1][-1].endswith("\\"):
                cmd[1].append(line)
            else:
                cmd[2].append(line)
        return [(n, "transcript", (_join(c), out_lines)) for n, c, out_lines in out]
    return [(first, "shell", "\n".join(body))]


def commands(block):
    """(line offset, command) of a shell block, continuation lines joined."""
    out, cmd = [], []
    for n, line in enumerate(block.split("\n")):
        cmd.append(line)
        if not line.endswith("\\"):
            if _join(cmd):
                out.append((n - len(cmd) + 1, _join(cmd)))
            cmd = []
    return out


def _join(lines):
    return re.sub(r"\\\n\s*", "", "\n".join(lines)).strip()


def _free_port(span=1):
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + span < 65000 and all(_port_free(port + k) for k in range(span)):
            return port
    raise RuntimeError("no free port")


def _port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Runner:
    def __init__(self, workdir):
        self.cwd = str(workdir)
        for name in LINKED:
            os.symlink(os.path.join(ROOT, name), os.path.join(self.cwd, name))
        self.env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"], PYTHONUNBUFFERED="1")
        self.ports = dict((p, str(_free_port(2))) for p in PORTS)
        self.ports["7001"] = str(int(self.ports["7000"]) + 1)
        self.groups = []  # from `ready` regexes, for {0}, {1}, ...
        self.captured = ""
        self.background = []
        self.failures = []
        self.used = set()

    def rule_for(self, text, count=True):
        for n, r in enumerate(RULES):
            if r["match"] in text:
                if count:
                    self.used.add(n)
                return r
        return {}

    def prepare(self, text, r):
        for old, new in r.get("replace", ()):
            text = text.replace(old, new.replace("{captured}", self.captured))
        for n, g in enumerate(self.groups):
            text = text.replace("{%d}" % n, g)
        for port, free in self.ports.items():
            text = re.sub(r"(?<![0-9])%s(?![0-9])" % port, free, text)
        return text

    def run(self, line, kind, text):
        if kind == "shell":
            if "skip" not in self.rule_for(text, count=False):
                for offset, cmd in commands(text):
                    self.run(line + offset, "command", cmd)
            else:
                self.rule_for(text)
            return
        r = self.rule_for(text if kind != "transcript" else "$ " + text[0])
        if r.get("stop_background"):
            self.stop()
        if r.get("before"):
            self.command("README.md:%d (before)" % line, self.prepare(r["before"], {}), {"capture": r["capture"]})
        if "skip" in r or kind in ("text",):
            return
        if kind == "json":
            json.loads(text)  # at least well-formed
            return
        where = "README.md:%d" % line
        if kind == "python":
            path = os.path.join(self.cwd, "snippet_%d.py" % line)
            with open(path, "w") as f:
                f.write(self.prepare(text, r))
            runtimes = {"micropython": ["micropython"], "both": ["python", "micropython"]}.get(
                r.get("runtime"), ["python"])
            for rt in runtimes:
                exe = os.path.join(VENV_BIN, rt)
                env = dict(self.env, MICROPYPATH="firmware") if rt == "micropython" else None
                self.command(where, [exe, path], r, env)
            return
        if kind == "transcript":
            cmd, expected = text
            out = self.command(where, self.prepare(cmd, r), r, ok_codes=None)
            if out is not None and r.get("check_output", True) and out.splitlines() != expected:
                self.failures.append("%s: `%s` printed\n%s\nnot\n%s" % (where, cmd, out, "\n".join(expected)))
            return
        self.command(where, self.prepare(text, r), r, ok_codes=(r.get("exit_status", 0),))

    def command(self, where, cmd, r, env=None, ok_codes=(0,)):
        shell = isinstance(cmd, str)
        if shell:
            cmd = re.sub(r"\s&\s*(#.*)?$", "", cmd)  # `cmd &  # comment`: background is the rule's
        popen = dict(cwd=self.cwd, env=env or self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                     text=True, shell=shell, start_new_session=True)
        if r.get("background"):
            log = os.path.join(self.cwd, "background_%s.log" % where.split(":")[1].split()[0])
            with open(log, "w") as out:
                proc = subprocess.Popen(cmd, **dict(popen, stdout=out))
            self.background.append((where, proc, r, log))
            if r.get("ready"):
                self.wait_ready(where, proc, r["ready"], log)
            return None
        try:
            done = subprocess.run(cmd, timeout=r.get("timeout", DEFAULT_TIMEOUT_S), **popen)
        except subprocess.TimeoutExpired:
            self.failures.append("%s: `%s` did not finish in %d s" % (where, cmd, r.get("timeout", DEFAULT_TIMEOUT_S)))
            return None
        if ok_codes is not None and done.returncode not in ok_codes:
            self.failures.append("%s: `%s` exited %d:\n%s" % (where, cmd, done.returncode, done.stdout[-3000:]))
        self.check_expect(where, cmd, done.stdout, r)
        if r.get("capture"):
            m = re.search(r["capture"], done.stdout)
            self.captured = m.group(1) if m else "(nothing captured)"
        return done.stdout.rstrip("\n")

    def check_expect(self, where, cmd, out, r):
        if r.get("expect") and not re.search(r["expect"], out):
            self.failures.append("%s: `%s` printed no match for %r:\n%s" % (where, cmd, r["expect"], out[-3000:]))

    def wait_ready(self, where, proc, pattern, log):
        # Until its output shows the pattern (bounded).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(log) as f:
                m = re.search(pattern, f.read())
            if m:
                self.groups = list(m.groups())
                return
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        with open(log) as f:
            self.failures.append("%s: `%s` never printed %r:\n%s" % (where, proc.args, pattern, f.read()[-3000:]))

    def stop(self):
        # Ctrl-C to the background commands, then check what they printed.
        while self.background:
            where, proc, r, log = self.background.pop()  # clients before the servers they use
            status = proc.poll()
            if status is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            with open(log) as f:
                out = f.read()
            if status not in (None, 0):
                self.failures.append("%s: `%s` exited %d by itself:\n%s" % (where, proc.args, status, out[-3000:]))
            self.check_expect(where, proc.args, out, r)


def test_every_readme_example_runs(tmp_path):
    runner = Runner(tmp_path)
    try:
        with open(README) as f:
            for line, kind, text in snippets(f.read()):
                runner.run(line, kind, text)
    finally:
        runner.stop()
    unused = [r["match"] for n, r in enumerate(RULES) if n not in runner.used]
    assert not unused, "rules whose README text is gone: %s" % unused
    assert not runner.failures, "\n\n".join(runner.failures)


def test_the_extractor_finds_every_kind_of_block():
    text = ("intro\n\n    qkd-secoc a \\\n        --b\n    qkd-secoc c   # note\n\n"
            "```python\nimport x\n```\n\n    $ qkd-secoc mac\n    out\n")
    assert snippets(text) == [(3, "shell", "qkd-secoc a \\\n    --b\nqkd-secoc c   # note"),
                              (7, "python", "import x"), (11, "transcript", ("qkd-secoc mac", ["out"]))]
    assert commands(snippets(text)[0][2]) == [(0, "qkd-secoc a --b"), (2, "qkd-secoc c   # note")]
