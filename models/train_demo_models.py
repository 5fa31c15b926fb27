"""Train the two demo models on synthetic phantoms: ``.venv/bin/python models/train_demo_models.py``.

Seeded and reproducible; a few minutes on a 2-core CPU; uses CUDA when available.
"""

from pathlib import Path

from camviewer.demo.train import main

if __name__ == "__main__":
    main(Path(__file__).resolve().parent)
