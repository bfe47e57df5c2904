"""Installs the trainer wrappers when verl's trainer modules are imported.

Importing the trainers at entry-point time would pull their optional dependencies into every
process, so a finder on ``sys.meta_path`` waits for each target module and wraps it right after
it has executed (or at once, if it is already imported). A verl patched with ``patches/`` passes
the group inputs itself: then only the start-up checks are installed.
"""

from __future__ import annotations

import importlib.abc
import logging
import sys

from polyepo_plugin.integration import fully_async, legacy, trl_value_head, v1
from polyepo_plugin.integration.patching import problems

logger = logging.getLogger(__name__)

MODULE_PATCHES: dict[str, list] = {
    "verl.trainer.ppo.ray_trainer": [legacy.patch_legacy_trainer],
    "verl.trainer.ppo.rollout_corr_helper": [legacy.patch_rollout_correction],
    "verl.experimental.separation.ray_trainer": [legacy.patch_separation_trainer],
    "verl.trainer.ppo.v1.utils": [v1.patch_v1_utils],
    "verl.trainer.ppo.v1.trainer_base": [v1.patch_v1_trainer],
    "verl.trainer.ppo.v1.replay_buffer": [v1.patch_replay_buffer],
    **{name: [legacy.patch_apart_trainer] for name in legacy.APART_TRAINERS},
    "verl.experimental.fully_async_policy.message_queue": [fully_async.patch_message_queue],
    "verl.experimental.fully_async_policy.fully_async_rollouter": [fully_async.patch_rollouter],
    trl_value_head.MONKEY_PATCH_MODULE: [trl_value_head.patch_trl_check],
}


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of a target module to patch it once executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in MODULE_PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _PatchingLoader(spec.loader, fullname)
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader, name: str):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        for patch in MODULE_PATCHES[self._name]:
            _apply_patch(patch, module)


def _apply_patch(patch, module) -> None:
    try:
        patch(module)
    except Exception as error:  # noqa: BLE001 - record it; a poly_epo run stops on it at start-up
        problems.append(f"patching {module.__name__} failed: {error!r}")
        logger.warning("polyepo: could not patch %s", module.__name__, exc_info=True)


def install_import_hook() -> None:
    # By name, so that a reloaded copy of this module does not add a second hook.
    if not any(type(finder).__qualname__ == _PatchAfterImport.__qualname__ for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchAfterImport())
    for name, patches in MODULE_PATCHES.items():
        if name in sys.modules:
            for patch in patches:
                _apply_patch(patch, sys.modules[name])


def patch_after_import(name: str, patch) -> None:
    """Run ``patch(module)`` once module ``name`` is imported (at once if it is already).

    For the CPU harness, which patches verl's trainers for CPU test runs; ``patch`` must be
    idempotent."""
    MODULE_PATCHES.setdefault(name, []).append(patch)
    install_import_hook()
