# One module per `qkd-secoc` subcommand; see host_tools.cli.COMMANDS.
