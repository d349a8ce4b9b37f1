# The key agent, frozen into flash as .mpy (bytecode and viper machine code),
# so it costs no RAM to import. Included by each boards/<BOARD>/manifest.py.
# MicroPython runs manifests with the current directory set to the manifest's.
import os

with open("unix_only_modules.txt") as f:
    unix_only = [line.strip() for line in f if line.strip() and not line.startswith("#")]
agent = "../firmware/keyagent"
files = []
for top, dirs, names in os.walk(agent):
    for name in names:
        path = os.path.relpath(os.path.join(top, name), agent)
        if name.endswith(".py") and path not in unix_only:
            files.append(path)
package("keyagent", files=sorted(files), base_path="../firmware")
