# The key agent, frozen into flash as .mpy (bytecode and viper machine code),
# so it costs no RAM to import. Included by each boards/<BOARD>/manifest.py.
package("keyagent", base_path="../firmware")
