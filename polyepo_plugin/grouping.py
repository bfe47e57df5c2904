"""From verl's flat rows to the padded ``(G, N)`` group layout of ``set_advantage`` and back.

A group is the set of rows sharing a uid. Rows a host marks as padding (added only to even out a
batch) belong to no group; any uid, ``"pad thai"`` included, is a group id like another.
``verl_padding_rows`` finds the rows verl's v1 trainer pads a batch with by their uid. Strategy
labels arrive per row as anything hashable; they are turned into small integers that are only
compared within a group (``-1`` = degenerate).

verl hands uids and labels over as numpy arrays, usually of Python strings (``dtype=object``) or
fixed-width strings (``dtype='<U..'``). Those, and integer, float, bool and mixed arrays of plain
Python / numpy scalars, are coded with ``pandas.factorize`` (a hash table in C) instead of a
Python loop per row; anything else (user classes, ``pd.NA``, ``Fraction``, ...) takes the
per-row Python path, whose rules the fast paths reproduce exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from pandas.api.types import infer_dtype

# verl 0.9.1's padding rows (trainer/ppo/padding_utils.py): uid f"pad{uuid.uuid4().hex}".
VERL_PADDING_UID = re.compile(r"pad[0-9a-f]{32}")
DEGENERATE = -1

# Types whose equality agrees with the label rules below: two equal values of these types always
# normalise to the same label, so hashing the raw values first and normalising only the distinct
# ones gives the same partition as normalising every row. None and float NaN are the only nulls
# among them (pandas.factorize codes both -1; both are degenerate).
_PLAIN_LABEL_TYPES = frozenset(
    {str, np.str_, bool, np.bool_, int, float, type(None)}
    | {np.dtype(code).type for code in np.typecodes["AllInteger"] + np.typecodes["Float"]}
)


def verl_padding_rows(index: np.ndarray) -> np.ndarray:
    """``(B,)`` bool: the rows whose uid is verl's padding uid (``VERL_PADDING_UID``, the whole
    uid), for a verl that does not tag them (a verl patched with ``patches/`` passes no tags)."""
    codes, distinct = factorize(index)
    is_padding = np.fromiter(
        (isinstance(uid, str) and VERL_PADDING_UID.fullmatch(uid) is not None for uid in distinct),
        dtype=bool,
        count=len(distinct),
    )
    return is_padding[codes]


def factorize(values: Sequence[object] | np.ndarray) -> tuple[np.ndarray, list]:
    """Integer codes in order of first appearance, and the distinct values in that order.

    ``values`` of length B -> ``(B,)`` int64 codes and the distinct values (Python objects, the
    first occurrence of each). Arrays of strings or integers are hashed in C; other inputs (e.g.
    with None or NaN, which pandas would merge) go through a dict, which compares like Python.
    """
    if isinstance(values, np.ndarray) and values.ndim == 1 and _factorizes_in_c(values):
        codes, distinct = pd.factorize(values, sort=False)
        return codes.astype(np.int64, copy=False), distinct.tolist()
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    lookup: dict[object, int] = {}
    codes = np.fromiter((lookup.setdefault(v, len(lookup)) for v in items), dtype=np.int64, count=len(items))
    return codes, list(lookup)


def _factorizes_in_c(array: np.ndarray) -> bool:
    """Whether ``pandas.factorize`` partitions ``array`` exactly as a dict of its items would."""
    if array.dtype.kind in "iubUS":
        return True
    return array.dtype.kind == "O" and infer_dtype(array, skipna=False) in ("string", "integer", "empty")


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

    @property
    def num_groups(self) -> int:
        return len(self.uids)

    def member_rows(self) -> list[list[int]]:
        """Flat rows of each group's members, in group order."""
        return [[row for row in members if row >= 0] for members in self.rows.cpu().tolist()]

    @classmethod
    def from_index(
        cls, index: np.ndarray, device: torch.device | str = "cpu", padding: np.ndarray | None = None
    ) -> GroupLayout:
        """Group rows by their uid ``index[row]``, groups in order of first appearance; the rows
        marked in ``padding`` (``(B,)`` bool, e.g. verl v1's tag) join no group."""
        padding = np.zeros(len(index), dtype=bool) if padding is None else np.asarray(padding, dtype=bool)
        member_rows = np.flatnonzero(~padding)
        member_index = index[member_rows] if isinstance(index, np.ndarray) else [index[row] for row in member_rows]
        codes, uids = factorize(member_index)
        num_groups = len(uids)
        order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes, minlength=num_groups)
        starts = np.cumsum(sizes) - sizes
        position = np.arange(codes.size) - np.repeat(starts, sizes)
        rows = np.full((num_groups, int(sizes.max()) if num_groups else 0), -1, dtype=np.int64)
        rows[codes[order], position] = member_rows[order]
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


def distinct_per_group(strategies: torch.Tensor, include: torch.Tensor) -> torch.Tensor:
    """Number of distinct non-negative labels among the included members of each group.

    ``strategies``: ``(G, N)`` int labels (``-1`` degenerate); ``include``: ``(G, N)`` bool ->
    ``(G,)`` int64 counts.
    """
    kept = torch.where(include & (strategies >= 0), strategies, torch.full_like(strategies, -1))
    width = int(kept.max().item()) + 2 if kept.numel() else 1
    present = torch.zeros(kept.shape[0], width, dtype=torch.bool, device=kept.device)
    present.scatter_(1, kept + 1, True)
    return present[:, 1:].sum(1)


def strategy_codes(labels: Sequence[object] | np.ndarray) -> np.ndarray:
    """Per-response strategy labels ``(B,)`` to int64 codes ``(B,)``, ``-1`` for degenerate ones.

    Integers (and integral floats, and bools) are kept; strings and other hashables get codes;
    ``None``, NaN and negative numbers are degenerate (they count for no strategy). An integer
    and a string are different labels (``1`` vs ``"1"``); ``1``, ``1.0`` and ``True`` are one.
    Codes are only meant to be compared within a group: the numbering itself is arbitrary.
    """
    if isinstance(labels, (list, tuple)):
        # Not np.asarray: it would turn [1, "1"] into ["1", "1"] and [(0, 1), ...] into 2-D.
        array = np.fromiter(labels, dtype=object, count=len(labels))
    else:
        array = np.asarray(labels)
    kind = array.dtype.kind
    if kind in "iub":
        return np.where(array < 0, DEGENERATE, array).astype(np.int64)
    if array.ndim == 1:
        if kind in "US":
            return pd.factorize(array, sort=False)[0].astype(np.int64, copy=False)
        if kind == "f" and array.dtype.itemsize <= 8:
            values = array.astype(np.float64)
            degenerate = np.isnan(values) | (values < 0)
            # + 0.0 folds -0.0 into 0.0; equal floats are one label, as 1.0 and 1 would be.
            codes = pd.factorize(np.where(degenerate, 0.0, values) + 0.0, sort=False)[0]
            return np.where(degenerate, DEGENERATE, codes).astype(np.int64, copy=False)
        if kind == "O":
            codes = _object_strategy_codes(array)
            if codes is not None:
                return codes
    return _python_strategy_codes(array)


def _object_strategy_codes(array: np.ndarray) -> np.ndarray | None:
    """``strategy_codes`` of a 1-D object array in C, or None when it holds other than plain scalars."""
    if infer_dtype(array, skipna=False) == "string":
        return pd.factorize(array, sort=False)[0].astype(np.int64, copy=False)
    if not set(map(type, array.tolist())) <= _PLAIN_LABEL_TYPES:
        return None
    # Hash the raw values (None and NaN -> -1), then apply the rules to the few distinct ones:
    # equal plain values normalise alike, and equal normalised values (1, 1.0, True) share a code.
    raw_codes, distinct = pd.factorize(array, sort=False)
    lookup: dict[object, int] = {}
    recode = [DEGENERATE if v is None else lookup.setdefault(v, len(lookup)) for v in map(_normalise_label, distinct)]
    return np.asarray(recode + [DEGENERATE], dtype=np.int64)[raw_codes]


def _python_strategy_codes(array: np.ndarray) -> np.ndarray:
    """``strategy_codes`` one label at a time: for labels the fast paths do not cover."""
    normalised = [_normalise_label(v) for v in array.tolist()]
    is_degenerate = np.fromiter((v is None for v in normalised), dtype=bool, count=len(normalised))
    lookup: dict[object, int] = {}
    codes = np.fromiter((lookup.setdefault(v, len(lookup)) for v in normalised), dtype=np.int64, count=len(normalised))
    return np.where(is_degenerate, DEGENERATE, codes)


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
