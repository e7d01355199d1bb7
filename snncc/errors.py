"""The one family of errors a user can cause.

Every error names what failed (the file, the layer, the limit) and, where there is one, a hint. The CLI prints
``str(error)`` on one line and exits non-zero; nothing else in snncc should reach a user as a traceback.
"""

from __future__ import annotations


class SnnccError(Exception):
    """Base class of every user-caused failure. ``exit_code`` is what the CLI returns."""

    exit_code = 2

    def __init__(self, message: str, *, layer: str | None = None, hint: str | None = None):
        self.message = message
        self.layer = layer
        self.hint = hint
        text = f"layer '{layer}': {message}" if layer else message
        if hint:
            text += f" (hint: {hint})"
        super().__init__(one_line(text))


class ModelLoadError(SnnccError):
    """The model file is missing, corrupt, of an unknown kind, or would need unsafe unpickling."""


class UnsupportedLayerError(SnnccError):
    """The model holds a layer, function or node type snncc cannot compile."""


class GraphError(SnnccError):
    """The graph is malformed: dangling edges, wrong shapes, missing dt/reset semantics."""


class TargetError(SnnccError):
    """The target description is missing or malformed."""


class ResourceError(SnnccError):
    """The model does not fit the target: names the layer and the binding per-core or per-chip limit."""


class QuantizationError(SnnccError):
    """A value cannot be represented in the target's integer formats (threshold, bias, decay, weight range)."""


class BundleError(SnnccError):
    """A compiled bundle is missing, incomplete or from an incompatible snncc version."""


class VerificationError(SnnccError):
    """Inputs given to verify/run do not fit the bundle (shape, dtype, value range)."""


class OptionError(SnnccError):
    """A command-line value or API option is out of range, of the wrong type, or does not apply to the model."""


class PipelineError(SnnccError):
    """A pipeline text, a pass option or a pass name is malformed or unknown."""


class BackendUnavailableError(SnnccError):
    """A backend's packages (lava-nc, lava-dl) are not installed or cannot be imported."""


def one_line(text: str) -> str:
    """``text`` on one line: an error quoting a parser's or library's multi-line message stays one line."""
    return " ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its class name when it has none): what a one-line error quotes of
    a library's failure."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def name_layer(exc: SnnccError, layer: str) -> SnnccError:
    """``exc`` again, naming ``layer`` (for an error raised by code that did not know the layer's name)."""
    if exc.layer is not None:
        return exc
    return type(exc)(exc.message, layer=layer, hint=exc.hint)
