"""camviewer: open chest X-rays, run a CNN, see and measure why it decided."""

__version__ = "0.1.0"
