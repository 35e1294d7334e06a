import sys

from patchkit.entry import main

sys.exit(main())
