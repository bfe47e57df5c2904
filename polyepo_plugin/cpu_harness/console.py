"""Reading verl's console logger: one ``step:N - key:value - ...`` line per training step."""

from __future__ import annotations

import re

# Ray prefixes an actor's output with its name, so the line is searched, not matched.
_STEP_LINE = re.compile(r"step:(\d+) - (.*training/global_step.*)$")
# Some trainers (one-step-off-policy) log numpy scalars by their repr: np.float64(0.5).
_NUMPY_REPR = re.compile(r"^np\.\w+\((.*)\)$")


def parse_step_line(line: str) -> tuple[int, dict[str, float]] | None:
    """``(step, numeric metrics)`` of a step line, or None for any other line."""
    found = _STEP_LINE.search(line)
    if not found:
        return None
    fields = dict(item.split(":", 1) for item in found.group(2).strip().split(" - ") if ":" in item)
    values = {key: _NUMPY_REPR.sub(r"\1", value) for key, value in fields.items()}
    return int(found.group(1)), {key: float(value) for key, value in values.items() if _is_number(value)}


def step_metrics(output: str) -> dict[int, dict[str, float]]:
    """Every step's metrics in a run's console output."""
    return dict(parsed for line in output.splitlines() if (parsed := parse_step_line(line)))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
