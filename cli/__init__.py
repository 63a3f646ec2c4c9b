"""The command line: the only layer that prints, reads options and picks exit codes."""
