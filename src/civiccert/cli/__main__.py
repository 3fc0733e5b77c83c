"""`python -m civiccert.cli`."""

from civiccert.cli import main

main()
