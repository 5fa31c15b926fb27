"""Models: cards, registered architectures, safe weight loading, preprocessing, prediction."""

from camviewer.model.build import LoadedModel, load_model
from camviewer.model.card import InputSpec, ModelCard, load_card
from camviewer.model.preprocess import ModelInput, prepare

__all__ = ["InputSpec", "LoadedModel", "ModelCard", "ModelInput", "load_card", "load_model", "prepare"]
