"""`python -m civicloop` is the `civicloop` command."""

from civicloop.cli import main

main()
