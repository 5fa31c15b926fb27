"""The engine that the command line, the window and batch runs share: frozen requests in, plain
results out, streamed in input order, with progress and cancellation.

- :func:`run_explain`: predictions and explanations per image (:class:`ExplainRequest`).
- :func:`run_evaluate`: perturbation curves, AOPC and Max Sensitivity per image (:class:`EvaluateRequest`).
- :class:`ModelSession`: a loaded model with what every request would otherwise re-derive.
- :func:`write_outputs`: the files for one result (overlays, raw maps, exports), and their warnings.
"""

from camviewer.engine.evaluate import run_evaluate
from camviewer.engine.explain import run_explain
from camviewer.engine.exports import OutputOptions, WrittenFiles, write_outputs
from camviewer.engine.naming import OutputNames
from camviewer.engine.requests import DecodedImage, EvaluateRequest, ExplainRequest, ImageSource
from camviewer.engine.results import EvaluationResult, Explanation, ImageResult, Prediction
from camviewer.engine.session import ModelSession

__all__ = [
    "DecodedImage", "EvaluateRequest", "EvaluationResult", "ExplainRequest", "Explanation", "ImageResult", "ImageSource",
    "ModelSession", "OutputNames", "OutputOptions", "Prediction", "WrittenFiles", "run_evaluate", "run_explain",
    "write_outputs",
]
