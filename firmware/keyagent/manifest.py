# The key agent as a MicroPython manifest: what a board image freezes,
# package by package. boards/manifest.py includes it; host_tools.manifest
# reads it the same way for `qkd-secoc flash` and the frozen-size report.
#   role="both"   (default) master and slave code
#   role="slave"  leaves the rekey master (keyagent/rekey/master.py) out
# keyagent/unix/ (socketcand client, pty/TCP module link) is in no image:
# it is never frozen nor flashed.
options.defaults(role="both")

for name in ("__init__", "compat", "features", "storage", "agent", "node"):
    module("keyagent/%s.py" % name, base_path="..")
for name in ("crypto", "secoc", "isotp", "optical", "hal", "board"):
    package("keyagent/" + name, base_path="..")
rekey = ["__init__.py", "ids.py", "messages.py", "keyslots.py", "slave.py"]
if options.role != "slave":
    rekey.append("master.py")
package("keyagent/rekey", files=rekey, base_path="..")
