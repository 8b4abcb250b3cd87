"""`python -m leadloop` runs the CLI."""

from leadloop.cli import main

main()
