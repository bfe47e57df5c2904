"""Whether the CPU harness was applied in this process (read by the modules it registers)."""

_active = False


def is_active() -> bool:
    """True once ``cpu_harness.apply()`` ran in this process (and found no CUDA)."""
    return _active


def mark_active() -> None:
    global _active
    _active = True
