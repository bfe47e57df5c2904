"""Helpers shared by the recipes' data-preparation scripts.

They read a question/answer table from the Hugging Face hub (``datasets``, when a user prepares
data) or from a local json/jsonl/parquet file (offline copies, tests), and write verl's RL
parquet layout: one row per prompt with

- ``data_source``: selects the reward function (verl's built-in one, or a recipe's file);
- ``prompt``: chat messages, ``[{"role": "user", "content": ...}]``, templated by verl;
- ``ability``: the task family;
- ``reward_model``: ``{"style": "rule", "ground_truth": <answer as a string>}``;
- ``extra_info``: ``split``, ``index``, the raw ``question`` and ``answer``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

LOCAL_SUFFIXES = (".json", ".jsonl", ".parquet")


def read_rows(local_file: str | None, hub_id: str, split: str, hub_config: str | None = None) -> list[dict[str, Any]]:
    """The rows of ``local_file`` when given, else of ``hub_id`` (its ``split``) from the hub."""
    if local_file:
        return read_local(local_file)
    import datasets  # only needed for the hub

    return list(datasets.load_dataset(hub_id, hub_config, split=split))


def read_local(path: str) -> list[dict[str, Any]]:
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".jsonl":
        frame = pd.read_json(path, lines=True, dtype=False)
    elif suffix == ".json":
        frame = pd.read_json(path, dtype=False)
    else:
        raise SystemExit(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(LOCAL_SUFFIXES)}")
    return frame.to_dict(orient="records")


def field(row: dict[str, Any], names: Sequence[str], where: str) -> Any:
    """The first of ``names`` present in ``row``; a clear error naming the columns otherwise."""
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise SystemExit(f"{where}: a row has none of the columns {list(names)}; its columns: {sorted(row)}")


def verl_rows(
    rows: Iterable[dict[str, Any]],
    *,
    data_source: str,
    ability: str,
    split: str,
    question_of: Callable[[dict[str, Any]], str],
    answer_of: Callable[[dict[str, Any]], str],
    prompt_of: Callable[[str], str],
    limit: int | None = None,
) -> list[dict[str, Any]]:
    records = []
    for index, row in enumerate(rows):
        if limit is not None and index >= limit:
            break
        question = str(question_of(row)).strip()
        answer = str(answer_of(row)).strip()
        records.append(
            {
                "data_source": data_source,
                "prompt": [{"role": "user", "content": prompt_of(question)}],
                "ability": ability,
                "reward_model": {"style": "rule", "ground_truth": answer},
                "extra_info": {"split": split, "index": index, "question": question, "answer": answer},
            }
        )
    if not records:
        raise SystemExit(f"{data_source} ({split}): no rows")
    return records


def write_parquet(records: list[dict[str, Any]], path: Path) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame.from_records(records).to_parquet(path, index=False)
    print(f"wrote {len(records)} rows to {path}")


def add_common_arguments(parser: argparse.ArgumentParser, default_out_dir: str) -> None:
    parser.add_argument(
        "--out-dir", default=os.path.expanduser(default_out_dir), type=Path, help="where the parquet files go"
    )
    parser.add_argument("--limit", type=int, default=None, help="keep only the first N rows of each split (smoke runs)")
