"""`python -m mixstack` is the `mixstack` command."""

from mixstack.cli.app import main

main()
