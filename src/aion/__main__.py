"""``python -m aion`` runs the CLI."""

from aion.cli.main import main

main()
