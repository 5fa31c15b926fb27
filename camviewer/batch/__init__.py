"""Batch runs over a folder: the same engine for the command line and the window's batch dialog.

- :mod:`~camviewer.batch.source`: the images of a folder (and why some cannot be read);
- :mod:`~camviewer.batch.truth`: labels, masks and boxes;
- :mod:`~camviewer.batch.work`: one chunk of images into records (the unit any executor runs);
- :mod:`~camviewer.batch.executor`: this process, or worker processes;
- :mod:`~camviewer.batch.journal`: the run's SQLite journal (one writer: the driver);
- :mod:`~camviewer.batch.run`: :func:`run_batch`, the driver; reports come from the journal.
"""
