# The storage seam for values that must survive a reboot (the trip counter,
# the active epoch). FileStorage works unchanged on a board's flash
# filesystem and on the host: a small JSON file, replaced by rename so that
# a reset in the middle of a write leaves the old file whole.
import json
import os


class MemoryStorage:
    def __init__(self, values=None):
        self._values = dict(values or {})

    def get(self, name, default=None):
        return self._values.get(name, default)

    def put(self, name, value):
        self._values[name] = value


class FileStorage:
    def __init__(self, path):
        self.path = path
        self._values = {}
        try:
            with open(path) as f:
                loaded = json.load(f)
            if isinstance(loaded, dict):
                self._values = loaded
        except (OSError, ValueError):
            # Missing or corrupt: start empty; the caller decides what a
            # missing value means (the trip counter then restarts above 0).
            pass

    def get(self, name, default=None):
        return self._values.get(name, default)

    def put(self, name, value):
        if self._values.get(name) == value:
            return  # spare the flash
        self._values[name] = value
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self._values, f)
        os.rename(tmp, self.path)
