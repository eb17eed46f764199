"""``python -m streams`` = the ``flashsale`` command."""

from streams.cli import main

main()
