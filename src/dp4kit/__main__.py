"""Allow `python -m dp4kit`."""

from dp4kit.cli import main

main()
