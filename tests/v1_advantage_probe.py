"""Runs verl's v1 ``PPOTrainer._compute_advantage`` on rows held in a real TransferQueue.

Used by test_v1_transfer_queue_on_cpu.py in a fresh process (Ray and TransferQueue are
process-wide). Prints one JSON line: per backend, the advantages verl wrote back, the ones
the core functions give for the same rows, and the poly_epo metrics verl's step received.
"""

import json
import os

import numpy as np
import ray
import torch
import transfer_queue as tq
import verl
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.utils.tensordict_utils import list_of_dict_to_tensordict

from polyepo_plugin.config import parse_config
from polyepo_plugin.estimator import StepInputs, row_advantages


class PadOnlyTokenizer:
    pad_token_id = 0


def rows(groups=3, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for p in range(groups):
        for s in range(n):
            length = int(torch.randint(2, 8, (1,), generator=g))
            # two token "styles", so that n-gram overlap finds more than one strategy
            base = 3 if s % 2 == 0 else 20
            responses = base + torch.arange(length) % 6
            score = float(torch.randint(0, 2, (1,), generator=g))
            rm_scores = torch.zeros(length)
            rm_scores[-1] = score
            out.append(
                {
                    "uid": f"prompt{p}",
                    "prompts": torch.randint(3, 30, (int(torch.randint(2, 5, (1,), generator=g)),), generator=g),
                    "responses": responses,
                    "response_mask": torch.ones(length, dtype=torch.int64),
                    "rm_scores": rm_scores,
                    "extra_fields": {"reward_extra_info": {"strategy": s % 3, "acc": score}},
                }
            )
    return out


def main():
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    tq.init(OmegaConf.create({"backend": {"SimpleStorage": {"num_data_storage_units": 1}}}))
    samples = rows()
    keys = [f"{row['uid']}_{i}_0" for i, row in enumerate(samples)]
    meta = tq.kv_batch_put(keys=keys, partition_id="train", fields=list_of_dict_to_tensordict(samples))
    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    width = max(len(row["responses"]) for row in samples)
    responses = torch.zeros(len(samples), width, dtype=torch.long)
    mask = torch.zeros(len(samples), width)
    for i, row in enumerate(samples):
        responses[i, : len(row["responses"])] = row["responses"]
        mask[i, : len(row["responses"])] = 1
    report = {}
    for backend in ("labels", "ngram"):
        overrides = ["algorithm.adv_estimator=poly_epo", f"+algorithm.poly_epo.diversity.backend={backend}"]
        with initialize_config_dir(config_dir=config_dir, version_base=None):
            config = compose("ppo_trainer", overrides=overrides + ["actor_rollout_ref.rollout.n=4"])
        trainer = object.__new__(PPOTrainerSync)  # only what _compute_advantage reads
        trainer.config = config
        trainer.tokenizer = PadOnlyTokenizer()
        metrics = {}
        trainer._compute_advantage(meta, metrics)
        written = tq.kv_batch_get(keys=meta.keys, partition_id="train", select_fields=["advantages"])["advantages"]
        expected = row_advantages(
            "poly_epo",
            torch.tensor([row["rm_scores"].sum().item() for row in samples], dtype=torch.float64),
            np.array([row["uid"] for row in samples], dtype=object),
            mask,
            parse_config(config.algorithm),
            StepInputs(
                {"responses": responses},
                {"strategy": np.array([row["extra_fields"]["reward_extra_info"]["strategy"] for row in samples])},
            ),
        )
        report[backend] = {
            "written": [float(row[0]) for row in written.unbind()],
            "constant_per_response": all(bool((row == row[0]).all()) for row in written.unbind()),
            "expected": expected.tolist(),
            "metrics": metrics,
        }
    print(json.dumps(report))
    tq.close()
    ray.shutdown()


if __name__ == "__main__":
    main()
