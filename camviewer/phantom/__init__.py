"""Synthetic chest radiographs (phantoms) with known findings, masks and labels."""

from camviewer.phantom.generate import CLASSES, FINDINGS, Phantom, check_size, generate

__all__ = ["CLASSES", "FINDINGS", "Phantom", "check_size", "generate"]
