"""`python -m civiccert`: the ``civiccert`` command."""

from civiccert.cli import main

main()
