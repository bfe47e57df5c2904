"""Vectorised uid and label coding against the per-row Python version it replaced.

The oracle below is the Python implementation of ``polyepo_plugin.grouping`` before labels and
uids were coded with ``pandas.factorize``, kept verbatim: one dict step per row. The new code
must induce the same partition of rows (same degenerate rows, same rows sharing a label), the
same uid codes in order of first appearance and the same group layout, on random mixes of
everything a reward function or verl can hand over. Seeds are fixed.
"""

import math
import random
import uuid
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import torch
from brute_force import same_partition

from polyepo_plugin.grouping import GroupLayout, factorize, strategy_codes, verl_padding_rows

VERL_PAD_UID = "pad" + uuid.UUID(int=12345).hex  # as verl's padding_utils writes it: f"pad{uuid4().hex}"

# ---- oracle: the per-row Python implementation, as it was --------------------------------------


def oracle_factorize(values):
    lookup = {}
    codes = np.fromiter((lookup.setdefault(v, len(lookup)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(lookup)


def oracle_normalise_label(value):
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, (int, np.integer)):
        return None if value < 0 else int(value)
    if isinstance(value, (float, np.floating)):
        if math.isnan(value) or value < 0:
            return None
        return int(value) if float(value).is_integer() else float(value)
    return value


def oracle_strategy_codes(labels):
    # The old code called np.asarray on lists too, which coerced [1, "1"] to ["1", "1"] (one
    # label, against its own rule); the oracle takes the labels as an object array instead.
    array = object_array(labels) if isinstance(labels, list) else np.asarray(labels)
    if array.dtype.kind in "iub":
        return np.where(array < 0, -1, array).astype(np.int64)
    normalised = [oracle_normalise_label(v) for v in array.tolist()]
    is_degenerate = np.fromiter((v is None for v in normalised), dtype=bool, count=len(normalised))
    return np.where(is_degenerate, -1, oracle_factorize(normalised)[0])


def oracle_layout(index, padding):
    """(rows, sizes, uids, padding) of GroupLayout.from_index, row by row: the rows not marked
    as padding, grouped by uid in order of first appearance."""
    member_rows = np.flatnonzero(~padding)
    codes, uids = oracle_factorize([index[row] for row in member_rows])
    num_groups = len(uids)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=num_groups)
    starts = np.cumsum(sizes) - sizes
    position = np.arange(codes.size) - np.repeat(starts, sizes)
    rows = np.full((num_groups, int(sizes.max()) if num_groups else 0), -1, dtype=np.int64)
    rows[codes[order], position] = member_rows[order]
    return rows, sizes, uids, padding


# ---- random inputs ------------------------------------------------------------------------------


def object_array(values):
    """A 1-D object array even when the values are tuples (np.array would make a 2-D one)."""
    return np.fromiter(values, dtype=object, count=len(values))


LABEL_POOLS = {
    "ints": lambda r: r.choice([0, 1, 2, 3, 7, 10**12, -1, -5]),
    "numpy_ints": lambda r: r.choice([np.int64(2), np.int8(-3), np.uint8(1), np.int32(0), np.uint64(3)]),
    "bools": lambda r: r.choice([True, False, np.True_, np.False_]),
    "floats": lambda r: r.choice([1.0, 2.0, 0.0, -0.0, 1.5, 0.1, -2.0, -0.5, math.inf, -math.inf, 1e20]),
    "numpy_floats": lambda r: r.choice([np.float64(1.0), np.float32(1.5), np.float32(0.1), np.float16(3.0)]),
    "nans": lambda r: r.choice([float("nan"), np.nan, np.float64("nan"), np.float32("nan")]),
    "none": lambda r: None,
    "strings": lambda r: r.choice(["a", "b", "1", "2", "-1", "", "nan", "None", "True", "pad"]),
    "verl_strings": lambda r: f"strategy-{r.randrange(6)}",
    "numpy_strings": lambda r: np.str_(r.choice(["a", "b", "1"])),
    "bytes": lambda r: r.choice([b"a", b"1"]),
    "other_hashables": lambda r: r.choice([("a", 1), ("a", 1.0), frozenset({1}), Fraction(1, 2), Fraction(-1), 1j]),
    "pandas_na": lambda r: pd.NA,
}


def random_labels(rng, pools, size):
    return [LABEL_POOLS[rng.choice(pools)](rng) for _ in range(size)]


def as_container(rng, values):
    """The same labels as verl or a user may pass them: list, object array, or numpy's own dtype."""
    form = rng.choice(["list", "object", "native"])
    if form == "list":
        return values
    if form == "object":
        return object_array(values)
    try:
        native = np.array(values)
    except (ValueError, TypeError):
        return object_array(values)
    return native if native.ndim == 1 and native.dtype.kind != "O" else object_array(values)


MIXES = [
    ["verl_strings"],
    ["verl_strings", "none"],
    ["strings", "numpy_strings"],
    ["ints"],
    ["ints", "numpy_ints", "bools"],
    ["floats", "nans"],
    ["floats", "numpy_floats", "nans", "ints"],
    ["ints", "strings"],
    ["ints", "strings", "none", "nans", "floats", "bools"],
    ["strings", "bytes"],
    ["other_hashables", "ints", "floats", "strings"],
    ["pandas_na", "strings", "none"],
    list(LABEL_POOLS),
]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("mix", MIXES, ids=["+".join(m) for m in MIXES])
def test_strategy_codes_partition_equals_the_python_version(mix, seed):
    rng = random.Random(f"{seed}-{'+'.join(mix)}")
    for size in [0, 1, 2, 5, 17, 64, 300]:
        for _ in range(3):
            labels = as_container(rng, random_labels(rng, mix, size))
            got = strategy_codes(labels)
            assert got.dtype == np.int64 and got.shape == (size,)
            assert same_partition(got.tolist(), oracle_strategy_codes(labels).tolist()), (mix, labels)


@pytest.mark.parametrize(
    "labels,expected",
    [
        ([1, "1", 1.0, True, np.int64(1), np.True_], [0, 1, 0, 0, 0, 0]),  # 1 and "1" differ
        (object_array(["1", 1, "1", 1]), [0, 1, 0, 1]),
        ([1, "1", 2, "2"], [0, 1, 2, 3]),  # a list too, not coerced to strings
        ([("a", 1), ("a", 1.0), ("b", 1)], [0, 0, 1]),  # tuples are labels, not rows of a 2-D array
        ([0.0, -0.0, False, 0], [0, 0, 0, 0]),
        ([2.5, np.float32(2.5), 2, "2.5"], [0, 0, 1, 2]),
        ([None, float("nan"), np.float32("nan"), -1, -0.5, -math.inf, np.int8(-2)], [-1] * 7),
        ([Fraction(-1), -1, Fraction(1, 2), 0.5], [0, -1, 1, 1]),  # the per-row path's own rules
        (np.array(["x", "y", "x"]), [0, 1, 0]),
        (np.array([1.0, np.nan, 3.0, 1.0, -1.0]), [0, -1, 1, 0, -1]),
    ],
)
def test_strategy_codes_edge_cases(labels, expected):
    assert same_partition(strategy_codes(labels).tolist(), expected)
    assert same_partition(oracle_strategy_codes(labels).tolist(), expected)


def random_uid(rng):
    kind = rng.choice(["uuid", "uuid", "pad", "int", "numpy_int", "none", "short"])
    if kind == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if kind == "pad":
        return rng.choice(["pad", "pad_0", "pad_1", "padding-7", "pad-" + str(rng.randrange(3))])
    if kind == "int":
        return rng.randrange(-2, 4)
    if kind == "numpy_int":
        return np.int64(rng.randrange(4))
    if kind == "none":
        return None
    return rng.choice(["a", "b", "xpad", "Pad", "pa", "part-2", "", "1"])


def random_index(rng, size, mixed):
    groups = [random_uid(rng) for _ in range(max(1, size // 3))]
    if not mixed:  # what verl passes: uuid strings, maybe padding rows
        groups = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in groups] + ["pad_0", "pad_1"]
    values = [rng.choice(groups) for _ in range(size)]
    if not mixed or rng.random() < 0.3:
        return object_array(values)
    native = np.array(values) if all(isinstance(v, str) for v in values) else None
    if native is None and all(type(v) is int for v in values):
        native = np.array(values, dtype=np.int64)
    return native if native is not None else object_array(values)


@pytest.mark.parametrize("mixed", [False, True], ids=["verl_uuids", "mixed"])
@pytest.mark.parametrize("seed", range(3))
def test_uid_factorize_and_layout_equal_the_python_version(mixed, seed):
    rng = random.Random(100 * seed + mixed)
    for size in [0, 1, 3, 10, 50, 400]:
        for _ in range(5):
            index = random_index(rng, size, mixed)
            codes, distinct = factorize(index)
            want_codes, want_distinct = oracle_factorize(index.tolist())
            assert codes.tolist() == want_codes.tolist()
            assert distinct == want_distinct and list(map(type, distinct)) == list(map(type, want_distinct))
            if size == 0:
                continue
            padding = np.array([rng.random() < 0.1 for _ in range(size)], dtype=bool)
            given = padding if rng.random() < 0.8 else None  # None: no row is padding
            if given is None:
                padding[:] = False
            layout = GroupLayout.from_index(index, padding=given)
            rows, sizes, uids, padding = oracle_layout(index, padding)
            assert torch.equal(layout.rows, torch.as_tensor(rows)) and layout.sizes.tolist() == sizes.tolist()
            assert layout.uids == uids and layout.padding.tolist() == padding.tolist()
            assert torch.equal(layout.valid, layout.rows >= 0) and layout.num_rows == size


def test_verl_batch_coding_matches_per_group_partition():
    """The estimator's path: uuid uids and string labels, compacted within each group."""
    rng = random.Random(7)
    uids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(40)]
    index = object_array([u for u in uids for _ in range(8)] + [VERL_PAD_UID] * 3)
    labels = object_array([rng.choice([f"strategy-{rng.randrange(4)}", None]) for _ in range(len(index))])
    order = list(range(len(index)))
    rng.shuffle(order)
    index, labels = index[order], labels[order]
    layout = GroupLayout.from_index(index, padding=verl_padding_rows(index))
    assert len(layout.uids) == len(uids) and layout.padding.sum() == 3
    compact = layout.compact_strategies(strategy_codes(labels))
    reference = oracle_strategy_codes(labels)
    for g in range(len(uids)):
        rows = layout.rows[g][layout.valid[g]].numpy()
        assert same_partition(compact[g][layout.valid[g]].tolist(), reference[rows].tolist())


def test_only_verls_own_padding_uid_marks_padding():
    """A notebook or TRL caller may use prompt text as ids: "pad thai", "padding" and "pad_0" are
    groups; only verl's exact padding uid (pad + 32 hex digits) is padding."""
    index = object_array(["pad thai", "padding", "pad_0", "pad", VERL_PAD_UID, VERL_PAD_UID + "0", "x" + VERL_PAD_UID])
    assert verl_padding_rows(index).tolist() == [False, False, False, False, True, False, False]
    layout = GroupLayout.from_index(index)
    assert layout.uids == index.tolist() and not layout.padding.any()
