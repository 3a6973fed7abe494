"""`python -m collector` is the `slawitness` command."""

from cli.main import main

main()
