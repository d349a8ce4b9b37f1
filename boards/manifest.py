# The key agent, frozen into flash as .mpy (bytecode and viper machine code),
# so it costs no RAM to import. Included by each boards/<BOARD>/manifest.py,
# which may pass role="slave" for an image without the rekey master,
# ota=False for one without the UDS server and OTA update, and soft_aes=False
# for one that builds cryptolib in (boards/cmodules) and so needs no AES
# written in MicroPython.
# MicroPython runs manifests with the current directory set to the manifest's.
options.defaults(role="both", ota=True, soft_aes=True)
include("../firmware/keyagent/manifest.py", role=options.role, ota=options.ota, soft_aes=options.soft_aes)
