"""Import a backend's heavy dependency only when that backend is built.

Importing ``polyepo_plugin`` (done by ``import verl`` in every process) must stay light, so
math-verify and sentence-transformers are imported here, on first use, with an install hint.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from polyepo_plugin.config import CONFIG_ROOT

INSTALL_HINT = "pip install 'polyepo[diversity]'"


def import_optional(module: str, backend: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{CONFIG_ROOT}.diversity.backend={backend} needs the Python package {module!r}, which failed to import "
            f"({error}); install the optional dependencies with: {INSTALL_HINT}"
        ) from error
