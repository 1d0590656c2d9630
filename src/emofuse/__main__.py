"""``python -m emofuse`` runs the command line."""

from emofuse.cli import main

main()
