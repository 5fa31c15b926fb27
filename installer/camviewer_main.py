"""The application bundle's entry point: the ``camviewer`` command, window and sub-commands alike."""

import multiprocessing
import sys

from camviewer.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # batch worker processes started by spawn or a fork server run this program too
    sys.exit(main())
