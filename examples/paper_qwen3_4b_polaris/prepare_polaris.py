"""Write POLARIS-53k and AIME/MATH-style evaluation sets as verl parquet files.

    # from the Hugging Face hub (needs network and `pip install datasets`):
    python examples/paper_qwen3_4b_polaris/prepare_polaris.py --out-dir $HOME/data/polaris

    # from local copies (json, jsonl or parquet, with problem/answer columns):
    python examples/paper_qwen3_4b_polaris/prepare_polaris.py --out-dir /tmp/polaris \\
        --train-file polaris.jsonl --eval aime24 --eval-file aime24=aime_2024.parquet \\
        --eval-file hmmt25=hmmt_feb_2025.jsonl

Writes OUT_DIR/train.parquet (POLARIS-Project/Polaris-Dataset-53K, split train) and one
OUT_DIR/<name>.parquet per evaluation set. Known sets come from the hub unless --eval-file
gives a local file; any other name needs --eval-file. Each prompt is the problem followed by an
instruction to reason step by step and box the final answer, which is what math_reward.py
checks (math-verify equivalence with the ground truth).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from recipe_data import add_common_arguments, field, read_rows, verl_rows, write_parquet

TRAIN_HUB_ID = "POLARIS-Project/Polaris-Dataset-53K"
# name -> (hub dataset, split). All three have `problem` and `answer` columns.
EVAL_SETS = {
    "aime24": ("HuggingFaceH4/aime_2024", "train"),
    "aime25": ("math-ai/aime25", "test"),
    "math500": ("HuggingFaceH4/MATH-500", "test"),
}
QUESTION_COLUMNS = ("problem", "question", "Problem", "Question")
ANSWER_COLUMNS = ("answer", "Answer", "final_answer")
INSTRUCTION = "Reason step by step, then give the final answer in \\boxed{}."


def prompt_of(problem: str) -> str:
    return f"{problem}\n\n{INSTRUCTION}"


def math_rows(rows, data_source: str, split: str, limit: int | None):
    return verl_rows(
        rows,
        data_source=data_source,
        ability="math",
        split=split,
        question_of=lambda row: field(row, QUESTION_COLUMNS, data_source),
        answer_of=lambda row: field(row, ANSWER_COLUMNS, data_source),
        prompt_of=prompt_of,
        limit=limit,
    )


def parse_eval_files(pairs: list[str]) -> dict[str, str]:
    files = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--eval-file {pair!r}: expected NAME=PATH")
        files[name] = path
    return files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "~/data/polaris")
    parser.add_argument("--train-file", help=f"local copy of {TRAIN_HUB_ID} (instead of the hub)")
    parser.add_argument("--no-train", action="store_true", help="write the evaluation sets only")
    parser.add_argument(
        "--eval",
        nargs="*",
        default=list(EVAL_SETS),
        metavar="NAME",
        help=f"evaluation sets to write (default: {' '.join(EVAL_SETS)})",
    )
    parser.add_argument(
        "--eval-file", action="append", default=[], metavar="NAME=PATH", help="local file for evaluation set NAME"
    )
    args = parser.parse_args(argv)

    eval_files = parse_eval_files(args.eval_file)
    names = list(dict.fromkeys([*args.eval, *eval_files]))
    unknown = [name for name in names if name not in EVAL_SETS and name not in eval_files]
    if unknown:
        raise SystemExit(
            f"evaluation set(s) {unknown} are not on the hub list {list(EVAL_SETS)}: give --eval-file NAME=PATH"
        )

    if not args.no_train:
        rows = read_rows(args.train_file, TRAIN_HUB_ID, "train")
        write_parquet(math_rows(rows, "polaris", "train", args.limit), args.out_dir / "train.parquet")
    for name in names:
        hub_id, split = EVAL_SETS.get(name, (None, "test"))
        rows = read_rows(eval_files.get(name), hub_id, split)
        write_parquet(math_rows(rows, name, "test", args.limit), args.out_dir / f"{name}.parquet")


if __name__ == "__main__":
    main()
