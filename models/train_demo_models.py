"""Train the demo models on synthetic phantoms: ``.venv/bin/python models/train_demo_models.py [NAME ...]``.

Seeded (on the CPU, the same thread count gives the same weights); about 25 minutes for both on a
2-core CPU; uses CUDA when available. With names (demo-vgg, demo-resnet), trains only those.
"""

import sys
from pathlib import Path

from camviewer.demo.train import main

if __name__ == "__main__":
    main(Path(__file__).resolve().parent, tuple(sys.argv[1:]))
