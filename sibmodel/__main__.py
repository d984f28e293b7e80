"""``python -m sibmodel``: the same as the ``sibmodel`` command."""

from sibmodel.cli.commands import main

main(prog_name="sibmodel")
