"""CUDA faked visible, for testing on a CPU-only machine what happens on a GPU node.

``fake_cuda_env(env, folder)`` returns ``env`` with a ``sitecustomize`` on PYTHONPATH that makes
``torch.cuda.is_available()`` answer as a driver with one device would: True unless
CUDA_VISIBLE_DEVICES names no device (unset: all visible; "" or an invalid first id such as
"-1": none). It reaches every Python process started with that environment (Ray workers too).
The CPU harness decides by ``torch.cuda.is_available()``, so under the fake it switches itself
off exactly where it would on a GPU node.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

SITECUSTOMIZE = '''
import importlib.abc, importlib.util, os, sys


def _cuda_visible():
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
    return first.isdigit()


class _FakeCuda(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            module.cuda.is_available = _cuda_visible

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _FakeCuda())
'''


def fake_cuda_env(env: Mapping[str, str], folder: Path) -> dict:
    """``env`` with CUDA faked visible (module docstring); the sitecustomize is written to ``folder``."""
    site = Path(folder) / "fake_cuda"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    out = {k: v for k, v in env.items() if k != "CUDA_VISIBLE_DEVICES"}
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), out.get("PYTHONPATH", "")) if p)
    return out
