"""From verl's flat rows to the padded ``(G, N)`` group layout of ``set_advantage`` and back.

A group is the set of rows sharing a uid. Rows verl adds only to even out a batch (uid starting
with ``pad``) belong to no group. Strategy labels arrive per row as anything hashable; they are
turned into small integers that are only compared within a group (``-1`` = degenerate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

PAD_UID_PREFIX = "pad"
DEGENERATE = -1


def is_padding_uid(uid: object) -> bool:
    return isinstance(uid, str) and uid.startswith(PAD_UID_PREFIX)


def factorize(values: Sequence[object]) -> tuple[np.ndarray, list]:
    """Integer codes in order of first appearance, and the distinct values in that order."""
    lookup: dict[object, int] = {}
    codes = np.fromiter((lookup.setdefault(v, len(lookup)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(lookup)


@dataclass(frozen=True)
class GroupLayout:
    """Where each row of a flat batch sits in the padded group layout.

    ``rows[g, j]`` is the flat row of member j of group g (``-1`` past the group's end),
    ``valid`` marks real members, ``sizes`` counts them, ``uids`` names each group.
    """

    rows: torch.Tensor
    valid: torch.Tensor
    sizes: torch.Tensor
    uids: list
    padding: np.ndarray
    num_rows: int

    @classmethod
    def from_index(cls, index: np.ndarray, device: torch.device | str = "cpu") -> GroupLayout:
        """Group rows by their uid ``index[row]``; padding rows (uid ``pad...``) join no group."""
        codes, distinct = factorize(index.tolist())
        is_padding = np.fromiter((is_padding_uid(uid) for uid in distinct), dtype=bool, count=len(distinct))
        group_of_uid = np.cumsum(~is_padding) - 1
        padding = is_padding[codes]
        member_rows = np.flatnonzero(~padding)
        codes = group_of_uid[codes[member_rows]]
        num_groups = int((~is_padding).sum())
        order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes, minlength=num_groups)
        starts = np.cumsum(sizes) - sizes
        position = np.arange(codes.size) - np.repeat(starts, sizes)
        rows = np.full((num_groups, int(sizes.max()) if num_groups else 0), -1, dtype=np.int64)
        rows[codes[order], position] = member_rows[order]
        uids = [uid for uid, pad in zip(distinct, is_padding) if not pad]
        rows_t = torch.as_tensor(rows, device=device)
        return cls(rows_t, rows_t >= 0, torch.as_tensor(sizes, device=device), uids, padding, len(index))

    def gather(self, values: torch.Tensor, fill: float | int = 0) -> torch.Tensor:
        """``(B,)`` per-row values to ``(G, N)``, ``fill`` on padding."""
        picked = values[self.rows.clamp(min=0)]
        return torch.where(self.valid, picked, torch.full_like(picked, fill))

    def scatter(self, grouped: torch.Tensor) -> torch.Tensor:
        """``(G, N)`` back to ``(B,)``; rows outside every group get 0."""
        flat = torch.zeros(self.num_rows + 1, dtype=grouped.dtype, device=grouped.device)
        # Padding slots write to the extra last element, which is dropped.
        flat[torch.where(self.valid, self.rows, self.num_rows).reshape(-1)] = grouped.reshape(-1)
        return flat[:-1]

    def compact_strategies(self, row_labels: np.ndarray) -> torch.Tensor:
        """Per-row integer labels (``-1`` degenerate) to ``0..C_g-1`` within each group, ``(G, N)``."""
        labels = self.gather(torch.as_tensor(row_labels, device=self.rows.device), fill=DEGENERATE)
        ordered, order = torch.sort(labels, dim=1)
        previous = torch.cat([torch.full_like(ordered[:, :1], DEGENERATE), ordered[:, :-1]], dim=1)
        first_of_kind = (ordered >= 0) & (ordered != previous)
        rank = torch.cumsum(first_of_kind.long(), dim=1) - 1
        compact_sorted = torch.where(ordered >= 0, rank, torch.full_like(rank, DEGENERATE))
        return torch.empty_like(compact_sorted).scatter_(1, order, compact_sorted)


def strategy_codes(labels: Sequence[object] | np.ndarray) -> np.ndarray:
    """Per-response strategy labels to int64 codes, ``-1`` for degenerate ones.

    Integers (and integral floats) are kept; strings and other hashables get codes; ``None``,
    NaN and negative numbers are degenerate (they count for no strategy).
    """
    array = np.asarray(labels)
    if array.dtype.kind in "iub":
        return np.where(array < 0, DEGENERATE, array).astype(np.int64)
    normalised = [_normalise_label(v) for v in array.tolist()]
    is_degenerate = np.fromiter((v is None for v in normalised), dtype=bool, count=len(normalised))
    return np.where(is_degenerate, DEGENERATE, factorize(normalised)[0])


def _normalise_label(value: object) -> object:
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, (int, np.integer)):
        return None if value < 0 else int(value)
    if isinstance(value, (float, np.floating)):
        if math.isnan(value) or value < 0:
            return None
        return int(value) if float(value).is_integer() else float(value)
    return value
