"""``python -m camviewer``: the same entry point as the ``camviewer`` console script."""

import sys

from camviewer.cli import main

sys.exit(main())
