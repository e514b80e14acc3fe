"""Lets `python -m viewfinder` run the command line."""

import sys

from viewfinder.cli import main

if __name__ == "__main__":
    sys.exit(main())
