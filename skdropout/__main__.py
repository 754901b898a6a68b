"""``python -m skdropout``: the ``skdropout`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
