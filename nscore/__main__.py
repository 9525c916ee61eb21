"""``python -m nscore``: the same command line as the ``nscore`` console script."""

import sys

from nscore.cli import main

if __name__ == "__main__":
    sys.exit(main())
