"""``python -m bdd4bnn`` runs the command line."""

from .cli import main

main()
