"""``python -m kinhub.cli``: the same as the ``kinhub`` command."""

from kinhub.cli.app import main

main()
