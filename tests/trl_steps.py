"""A few real TRL ``GRPOTrainer`` steps with ``PolyEpoGRPOTrainer`` on a tiny local model (CPU, HF
generation), each step's inputs and advantages written to a JSON file per process.

    python tests/trl_steps.py OUT_DIR MODEL_DIR '{"poly_epo": {...}, "per_device_train_batch_size": 4}'
    accelerate launch --cpu --num_processes 2 tests/trl_steps.py OUT_DIR MODEL_DIR '{...}'

Also the ``custom`` strategy backend of those runs (``label_strategies``): it labels from the
text and appends the size of each group it labels to ``$POLYEPO_GROUPS_SEEN``.
"""

from __future__ import annotations

import json
import os
import sys
import zlib

REWARD_NAME = "toy_reward"


def strategy_of(text: str) -> int:
    """A label read from the text alone (the test recomputes it)."""
    return zlib.crc32(text.encode()) % 3


def toy_reward(completions, log_extra=None, **_):
    """Deterministic in the text, three levels so groups have reward variance; logs each
    completion's strategy for ``diversity.backend=labels``."""
    texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
    if log_extra is not None:
        log_extra("strategy", [strategy_of(t) for t in texts])
    return [(zlib.crc32(t.encode()) // 3 % 3) / 2 for t in texts]


def label_strategies(prompt: str, responses: list[str]) -> list[int]:
    seen = os.environ.get("POLYEPO_GROUPS_SEEN")
    if seen:
        with open(seen, "a") as out:
            out.write(f"{len(responses)}\n")
    return [strategy_of(text) for text in responses]


def run(out_dir: str, model_dir: str, settings: dict) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from polyepo_plugin.trl import PolyEpoGRPOConfig, PolyEpoGRPOTrainer

    class Recording(PolyEpoGRPOTrainer):
        """Records what each step's loss got: this process's advantages, beside the step's rows."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps = []

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            rows = len(output["advantages"]) * self.accelerator.num_processes
            logs = self._logs
            self.steps.append(
                {
                    "process": self.accelerator.process_index,
                    "completions": list(logs["completion"])[-rows:],
                    "rewards": list(logs["rewards"][REWARD_NAME])[-rows:],
                    "logged_advantages": list(logs["advantages"])[-rows:],
                    "advantages": output["advantages"].tolist(),
                    "metrics": {k: v[-1] for k, v in self._metrics["train"].items() if k.startswith("poly_epo/")},
                }
            )
            return output

    settings = dict(settings)
    steps = settings.pop("max_steps", 2)
    args = PolyEpoGRPOConfig(
        output_dir=os.path.join(out_dir, "trainer"),
        max_steps=steps,
        learning_rate=1e-3,
        per_device_train_batch_size=settings.pop("per_device_train_batch_size", 4),
        num_generations=settings.pop("num_generations", 4),
        max_completion_length=6,
        temperature=1.0,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
        **settings,
    )
    prompts = [[{"role": "user", "content": f"Add {a} and {b}"}] for a in range(4) for b in range(4)]
    trainer = Recording(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        reward_funcs=toy_reward,
        args=args,
        train_dataset=Dataset.from_dict({"prompt": prompts}),
        processing_class=AutoTokenizer.from_pretrained(model_dir),
    )
    trainer.train()
    with open(os.path.join(out_dir, f"steps_{trainer.accelerator.process_index}.json"), "w") as out:
        json.dump(trainer.steps, out)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
