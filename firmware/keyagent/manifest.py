# The key agent as a MicroPython manifest: what a board image freezes,
# package by package. boards/manifest.py includes it; host_tools.manifest
# reads it the same way for `qkd-secoc flash` and the frozen-size report.
#   role="both"   (default) master and slave code
#   role="slave"  leaves the rekey master (keyagent/rekey/master.py) and the
#                 gateway's key stock (keyagent/keystore/) out
#   ota=False     leaves the UDS server and the OTA update out (about 16 KB
#                 of .mpy; the NUCLEO_F446RE has no room for them)
#   soft_aes=False  leaves the AES written in MicroPython out (about 3 KB of
#                 .mpy), for an image that has cryptolib built in; a board
#                 without cryptolib needs it (keyagent.crypto.aes falls back)
# keyagent/unix/ (socketcand client, pty/TCP module link) is in no image:
# it is never frozen nor flashed.
options.defaults(role="both", ota=True, soft_aes=True)

for name in ("__init__", "compat", "features", "canfd", "storage", "status", "agent", "node"):
    module("keyagent/%s.py" % name, base_path="..")
crypto = None  # every module of the package
if not options.soft_aes:
    import os  # manifests run in their own folder

    crypto = sorted(n for n in os.listdir("crypto") if n.endswith(".py") and not n.startswith("aes_soft"))
package("keyagent/crypto", files=crypto, base_path="..")
packages = ["secoc", "isotp", "optical", "hal", "board"]
if options.ota:
    packages += ["uds", "ota"]
for name in packages:
    package("keyagent/" + name, base_path="..")
rekey = ["__init__.py", "ids.py", "messages.py", "keyslots.py", "slave.py"]
if options.role != "slave":
    rekey.append("master.py")
package("keyagent/rekey", files=rekey, base_path="..")
if options.role != "slave":
    package("keyagent/keystore", base_path="..")
