"""Every failure a user can cause, as one exception type with a one-line message.

A message names the category and the file's base name, e.g.
``Truncated DICOM: pixel data incomplete (chest.dcm)``. It never holds a traceback or
patient data. ``reason`` is a short stable code for batch journals (``failed:<reason>``).
"""

from __future__ import annotations

from pathlib import Path


class CamviewerError(Exception):
    """Base class: ``category`` and ``reason`` are fixed per subclass."""

    category = "Error"
    reason = "error"

    def __init__(self, detail: str = "", path: str | Path | None = None) -> None:
        self.detail = detail
        self.filename = Path(path).name if path is not None else None
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.category}: {self.detail}" if self.detail else self.category
        return f"{text} ({self.filename})" if self.filename else text

    def __str__(self) -> str:
        return self.message


class InputError(CamviewerError):
    """An input image could not be opened."""

    category = "Cannot open image"
    reason = "unreadable"


class FileMissingError(InputError):
    category = "File not found or unreadable"
    reason = "missing"


class NotDicomError(InputError):
    category = "Not a DICOM file"
    reason = "not-dicom"


class UnsupportedImageError(InputError):
    category = "Not a supported image"
    reason = "unsupported-format"


class TruncatedFileError(InputError):
    category = "Truncated file"
    reason = "truncated"


class CorruptFileError(InputError):
    category = "Corrupt file"
    reason = "corrupt"


class NoImageDataError(InputError):
    category = "No image in file"
    reason = "no-image"


class InvalidImageAttributesError(InputError):
    category = "Invalid image attributes"
    reason = "invalid-pixel-attributes"


class UnsupportedSyntaxError(InputError):
    category = "Unsupported transfer syntax"
    reason = "unsupported-syntax"


class MissingDecoderError(InputError):
    category = "Unsupported compression: decoder not installed"
    reason = "missing-decoder"


class DecodeError(InputError):
    category = "Compressed image could not be decoded"
    reason = "corrupt-compressed"


class ImageTooLargeError(InputError):
    category = "Image too large"
    reason = "too-large"


class DecompressionBombError(InputError):
    category = "Compressed data expands beyond limit"
    reason = "decompression-bomb"


class NoFinitePixelsError(InputError):
    category = "Image contains no finite pixels"
    reason = "no-finite-pixels"


class UsageError(CamviewerError):
    """A value the user chose is not valid (e.g. a window width of 0).

    ``option`` names the request field it came from (e.g. "targets"), so that each front end
    can name its own control for it (the command line its flag); the message never does.
    """

    category = "Invalid option"
    reason = "usage"

    def __init__(self, detail: str = "", path: str | Path | None = None, *, option: str | None = None) -> None:
        self.option = option
        super().__init__(detail, path)


class OutputError(CamviewerError):
    """An output file could not be written."""

    category = "Could not write output"
    reason = "write-failed"


class ModelError(CamviewerError):
    """A model card or model file could not be used."""

    category = "Model could not be loaded"
    reason = "model"


class ModelCardError(ModelError):
    category = "Invalid model card"
    reason = "model-card"


class TrustRequiredError(ModelError):
    category = "Model runs code: explicit trust required"
    reason = "model-untrusted"


class UnsafeModelError(ModelError):
    category = "Model contains executable objects: refused"
    reason = "model-unsafe"


class ModelFormatError(ModelError):
    category = "Model format not accepted"
    reason = "model-format"


class ModelCorruptError(ModelError):
    category = "Model file corrupt"
    reason = "model-corrupt"


class ModelTooLargeError(ModelError):
    category = "Model file exceeds size limit"
    reason = "model-too-large"


class ModelMismatchError(ModelError):
    category = "Model does not match camviewer's architecture"
    reason = "model-mismatch"


class ModelWeightsError(ModelError):
    category = "Model weights contain non-finite values"
    reason = "model-non-finite"


class ModelIntegrityError(ModelError):
    category = "Model weights fail their integrity check"
    reason = "model-checksum"


class WorkerError(CamviewerError):
    """A batch worker process failed (it could not load the model, or stopped)."""

    category = "Batch worker failed"
    reason = "worker"


class Cancelled(CamviewerError):
    """The user cancelled a run; what it had yielded before stays valid."""

    category = "Cancelled"
    reason = "cancelled"


class ExplainError(CamviewerError):
    """An explanation cannot be computed for this model, layer or target."""

    category = "Cannot explain"
    reason = "explain"
