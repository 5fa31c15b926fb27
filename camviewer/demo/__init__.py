"""The demo models: trained on synthetic phantoms by ``models/train_demo_models.py``."""
