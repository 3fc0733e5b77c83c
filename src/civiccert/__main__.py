"""`python -m civiccert`: the same command as the ``civiccert`` console script."""

from civiccert.cli import main

main()
