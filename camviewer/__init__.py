"""camviewer: open chest X-rays, run a CNN, see and measure why it decided."""

import os

__version__ = "0.1.0"

# OpenCV reads its decode limit once; it must be set before cv2 is first imported anywhere.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(178_956_970 // 2))
