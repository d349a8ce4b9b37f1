# Reads the project's MicroPython manifests (boards/manifest.py and the
# component manifests under firmware/keyagent) the way MicroPython's
# tools/manifestfile.py does, for the parts they use: include() with
# options, package() and module() (tests/host_tools/test_manifest.py holds
# it to MicroPython's own reader). `qkd-secoc flash` copies exactly these
# files and host_tools.mpy_build reports their frozen size, so a board gets
# what its firmware image would freeze and nothing from keyagent/unix.
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS_MANIFEST = os.path.join(ROOT, "boards", "manifest.py")
AGENT_MANIFEST = os.path.join(ROOT, "firmware", "keyagent", "manifest.py")


class _Options:
    def __init__(self, kwargs):
        self.__dict__.update(kwargs)

    def defaults(self, **kwargs):
        for name, value in kwargs.items():
            self.__dict__.setdefault(name, value)


class _Reader:
    def __init__(self):
        self.files = {}  # frozen path -> source path
        self.visited = set()

    def include(self, path, **kwargs):
        if "$(" in path:
            return  # MicroPython's own manifests ($(BOARD_DIR), $(PORT_DIR)): not the agent
        path = os.path.abspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "manifest.py")
        if path in self.visited:
            return
        self.visited.add(path)
        prev = os.getcwd()
        os.chdir(os.path.dirname(path))  # manifests name paths relative to themselves
        try:
            with open(path) as f:
                code = compile(f.read(), path, "exec")
            exec(code, {"include": self.include, "package": self.package, "module": self.module,
                        "options": _Options(kwargs)})
        finally:
            os.chdir(prev)

    def module(self, module_path, base_path=".", opt=None):
        self.files[module_path] = os.path.abspath(os.path.join(base_path, module_path))

    def package(self, package_path, files=None, base_path=".", opt=None):
        top = os.path.join(base_path, package_path)
        if files is None:
            files = []
            for folder, dirs, names in os.walk(top):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                files += [os.path.relpath(os.path.join(folder, n), top) for n in sorted(names)
                          if n.endswith(".py")]
        for name in files:
            self.module(os.path.join(package_path, name).replace(os.sep, "/"), base_path)


def frozen_files(manifest=BOARDS_MANIFEST, **options):
    """[(source path, frozen path such as "keyagent/crypto/cmac.py")], sorted."""
    reader = _Reader()
    reader.include(manifest, **options)
    return sorted((src, dest) for dest, src in reader.files.items())
