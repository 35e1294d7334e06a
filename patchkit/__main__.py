"""``python -m patchkit``: the same entry point as the console script."""

import sys

from patchkit.cli.entry import main

sys.exit(main())
