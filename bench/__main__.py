"""``python -m bench``: the same as ``byok-bench``."""

import sys

from bench.cli import main

sys.exit(main())
