"""Write GSM8K as verl parquet files for the one-GPU recipe.

    # from the Hugging Face hub (needs network and `pip install datasets`):
    python examples/gsm8k_one_gpu/prepare_gsm8k.py --out-dir $HOME/data/gsm8k

    # from local copies (json, jsonl or parquet with GSM8K's question/answer columns):
    python examples/gsm8k_one_gpu/prepare_gsm8k.py --out-dir /tmp/gsm8k \\
        --train-file gsm8k_train.jsonl --test-file gsm8k_test.jsonl

Writes OUT_DIR/train.parquet and OUT_DIR/test.parquet with data_source ``openai/gsm8k``, so
verl's built-in GSM8K reward scores the responses: it reads the number after the last "####"
and compares it with the ground truth (1 or 0). The prompt asks for exactly that format. The
ground truth is the number after "####" in GSM8K's worked answer, without thousands separators.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from recipe_data import add_common_arguments, field, read_rows, verl_rows, write_parquet

HUB_ID = "openai/gsm8k"
HUB_CONFIG = "main"
DATA_SOURCE = "openai/gsm8k"  # the key of verl's built-in GSM8K reward
INSTRUCTION = (
    'Solve the problem step by step. On the last line, write "#### " followed by the final answer as a number.'
)


def final_number(worked_answer: str) -> str:
    """GSM8K's answer field ends with '#### <number>'; return the number without commas."""
    text = str(worked_answer)
    if "####" not in text:
        raise SystemExit(f"a GSM8K answer has no '####' final answer: {text[-80:]!r}")
    return text.rsplit("####", 1)[1].strip().replace(",", "")


def gsm8k_rows(rows, split: str, limit: int | None):
    return verl_rows(
        rows,
        data_source=DATA_SOURCE,
        ability="math",
        split=split,
        question_of=lambda row: field(row, ("question",), HUB_ID),
        answer_of=lambda row: final_number(field(row, ("answer",), HUB_ID)),
        prompt_of=lambda question: f"{question}\n\n{INSTRUCTION}",
        limit=limit,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "~/data/gsm8k")
    parser.add_argument("--train-file", help="local copy of GSM8K's train split (instead of the hub)")
    parser.add_argument("--test-file", help="local copy of GSM8K's test split (instead of the hub)")
    args = parser.parse_args(argv)
    for split, local_file in (("train", args.train_file), ("test", args.test_file)):
        rows = read_rows(local_file, HUB_ID, split, HUB_CONFIG)
        write_parquet(gsm8k_rows(rows, split, args.limit), args.out_dir / f"{split}.parquet")


if __name__ == "__main__":
    main()
