"""`python -m collector` is the `slawitness` command."""

from collector.cli import main

main()
