"""The desktop window: the only package that imports Qt or pyqtgraph.

- :mod:`camviewer.gui.state`: what the window shows, an observable Qt-free snapshot.
- :mod:`camviewer.gui.ledger`: request ids per view, and which one is current (Qt-free).
- :mod:`camviewer.gui.worker`: the one long-lived engine worker thread and its host.
"""
