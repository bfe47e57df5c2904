"""A CPU "accelerator" for verl's platform layer, plus the small fixes it needs.

verl 0.9.1 resolves every device question (device name, ``torch.<device>`` module,
collective backend, Ray resource name) through ``verl.plugin.platform``. It ships
cuda/npu/rocm platforms only and falls back to ``nvidia`` when none is detected, so
on a CPU-only machine the first ``torch.cuda`` call fails. Everything here is a
TEST/DEMO aid; see the package docstring.
"""

from __future__ import annotations

import logging
import os
import types
from contextlib import contextmanager
from typing import Any, Optional

import torch

from verl.plugin.platform import PlatformBase, PlatformRegistry
from verl.plugin.platform import platform_manager

logger = logging.getLogger(__name__)

PLATFORM_NAME = "cpu"
_PATCH_MARK = "_polyepo_cpu_harness_patched"


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def _mem_get_info(*args: Any, **kwargs: Any) -> tuple[int, int]:
    # Callers log this or size buffers with it; host memory is the honest answer.
    import psutil

    vm = psutil.virtual_memory()
    return int(vm.available), int(vm.total)


def _zero(*args: Any, **kwargs: Any) -> int:
    return 0


def _build_device_module() -> types.ModuleType:
    """A stand-in for ``torch.cuda`` with CPU semantics.

    Why ``current_device() == "cpu"``: verl does ``tensor.to(get_device_id())``;
    an integer 0 there means ``cuda:0``. Why ``is_available() is False``: verl's
    memory helpers skip CUDA-only statistics when it is false.
    """
    mod = types.ModuleType("polyepo_cpu_device")
    for name in ("Stream", "Event", "StreamContext", "current_stream", "stream"):
        setattr(mod, name, getattr(torch.cpu, name))
    mod.is_available = lambda: False
    mod.current_device = lambda: "cpu"
    mod.device_count = lambda: 1
    mod.get_device_name = lambda *a, **k: "cpu"  # read by verl/utils/flops_counter.py
    mod.get_rng_state = lambda *a, **k: torch.get_rng_state()
    mod.set_rng_state = lambda state, *a, **k: torch.set_rng_state(state)
    mod.manual_seed = mod.manual_seed_all = lambda seed: torch.manual_seed(seed)
    mod.mem_get_info = _mem_get_info
    for name in (
        "set_device",
        "synchronize",
        "empty_cache",
        "ipc_collect",
        "set_per_process_memory_fraction",
        "reset_peak_memory_stats",
        "reset_accumulated_memory_stats",
    ):
        setattr(mod, name, _noop)
    for name in ("memory_allocated", "memory_reserved", "max_memory_allocated", "max_memory_reserved"):
        setattr(mod, name, _zero)
    return mod


_DEVICE_MODULE = _build_device_module()


class PlatformCPU(PlatformBase):
    """verl platform for a machine without an accelerator (test/demo only)."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> types.ModuleType:
        return _DEVICE_MODULE

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        return not torch.cuda.is_available()

    def current_device(self) -> str:  # type: ignore[override]
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: Optional[int] = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[Optional[int], Optional[int]]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        # Ray still sets CUDA_VISIBLE_DEVICES for actors holding the logical "GPU".
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        # verl's placement groups ask for this resource; the run declares
        # `+ray_kwargs.ray_init.num_gpus=1` so Ray has one logical "GPU" to hand out.
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def register_platform() -> None:
    """Register ``cpu`` and make it the platform of this process (idempotent)."""
    if PlatformRegistry.get(PLATFORM_NAME) is None:
        PlatformRegistry.register(platform=PLATFORM_NAME)(PlatformCPU)
    # Auto-detection tries registered platforms in order and falls back to nvidia;
    # naming the platform explicitly also reaches Ray workers, which inherit env.
    os.environ.setdefault("VERL_PLATFORM", PLATFORM_NAME)
    current = platform_manager._current_platform
    if current is not None and current.device_name != "cpu":
        platform_manager.set_platform(PlatformCPU())


def patch_process_group_backend() -> None:
    """Make verl's default backend string valid on CPU.

    ``verl.utils.distributed.initialize_global_process_group_ray`` builds
    ``f"cpu:gloo,{device}:{backend}"`` which becomes ``"cpu:gloo,cpu:gloo"`` here and
    torch rejects the duplicate device. We wrap it to pass plain ``"gloo"``. The
    wrapper must be installed before ``verl.workers.engine_workers`` binds the name,
    which holds because verl imports this package inside ``import verl``.
    """
    import sys

    from verl.utils import distributed

    original = distributed.initialize_global_process_group_ray
    if getattr(original, _PATCH_MARK, False):
        return

    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        if backend is None or backend.replace(" ", "") == "cpu:gloo,cpu:gloo":
            backend = "gloo"
        return original(timeout_second=timeout_second, backend=backend)

    setattr(initialize_global_process_group_ray, _PATCH_MARK, True)
    distributed.initialize_global_process_group_ray = initialize_global_process_group_ray
    # Should engine_workers already be imported, patch its bound name too.
    engine_workers = sys.modules.get("verl.workers.engine_workers")
    if engine_workers is not None:
        engine_workers.initialize_global_process_group_ray = initialize_global_process_group_ray


def select_fsdp_engine() -> None:
    """verl registers its FSDP engines for ``cuda``/``npu`` only; look them up as cuda.

    ``EngineRegistry.get_engine_cls`` honours ``VERL_ENGINE_DEVICE``; the engine
    itself places tensors through the platform, so it runs on CPU.
    """
    os.environ.setdefault("VERL_ENGINE_DEVICE", "cuda")
