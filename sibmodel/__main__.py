"""``python -m sibmodel``: the same as the ``sibmodel`` command."""

from .cli import main

main(prog_name="sibmodel")
