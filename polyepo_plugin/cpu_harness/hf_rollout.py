"""An ``hf`` rollout backend for verl: plain transformers generation on CPU.

verl's agent loop only talks to rollout *servers* (vllm, sglang, trtllm), none of which
runs here. This module supplies the three pieces verl looks up by the name in
``actor_rollout_ref.rollout.name``:

- ``HFRolloutServer``: a named Ray actor holding an HF causal LM; its async
  ``generate(prompt_ids, sampling_params)`` returns verl's ``TokenOutput``.
- ``HFReplica``: the ``RolloutReplica`` that launches that actor.
- ``HFServerAdapter``: the ``BaseRollout`` living in the FSDP worker; its
  ``update_weights`` ships the actor's weights to the server after each step.

As a reward model (``reward.reward_model.rollout.name=hf``), a replica serves OpenAI-style chat
completions over HTTP instead (``hf_chat_server``), which verl's reward-model router forwards to.

Scripted mode (TEST only): with ``POLYEPO_HARNESS_SCRIPTED_ROLLOUT=package.module:function`` in
the environment, the server does not sample; it returns ``function(prompt_text, seed)``'s text,
tokenized and closed with the eos token, with the model's log-probs of those tokens. A random tiny
model never emits a tool call, so this is how verl's real tool agent loop gets one to parse.

Sleep/wake/abort have no memory to free on CPU, so they do nothing. TEST/DEMO only.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import ray
import torch

from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutMode, RolloutReplica, TokenOutput

from polyepo_plugin.cpu_harness.hf_chat_server import HFChatServer
from polyepo_plugin.cpu_harness.state import is_active

logger = logging.getLogger(__name__)

ROLLOUT_NAME = "hf"
_ADAPTER_FQN = f"{__name__}.HFServerAdapter"
SCRIPT_ENV_VAR = "POLYEPO_HARNESS_SCRIPTED_ROLLOUT"


def server_actor_name(replica_rank: int) -> str:
    # Ray named actors are per-namespace; include the job id so parallel runs don't clash.
    return f"polyepo_hf_rollout_{ray.get_runtime_context().get_job_id()}_{replica_rank}"


def _sample_next(
    logits: torch.Tensor, temperature: float, top_k: int, top_p: float, generator: torch.Generator
) -> tuple[int, float]:
    """Pick one token from 1-D ``logits``; return it and its log-prob.

    The log-prob is taken under ``softmax(logits / T)`` (before top-k/top-p), which is
    what verl's actor recomputes, so ``rollout_probs_diff`` stays meaningful.
    """
    if temperature <= 0:  # greedy, as verl's validation asks with temperature=0
        logp = torch.log_softmax(logits.float(), dim=-1)
        token = int(torch.argmax(logits))
        return token, float(logp[token])
    scaled = logits.float() / temperature
    logp = torch.log_softmax(scaled, dim=-1)
    filtered = scaled.clone()
    if top_k is not None and 0 < top_k < filtered.numel():
        kth = torch.topk(filtered, top_k).values[-1]
        filtered[filtered < kth] = float("-inf")
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(filtered, descending=True)
        cum = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)
        drop = cum - torch.softmax(sorted_logits, dim=-1) > top_p  # keep the token crossing top_p
        filtered[order[drop]] = float("-inf")
    token = int(torch.multinomial(torch.softmax(filtered, dim=-1), 1, generator=generator))
    return token, float(logp[token])


def scripted_responder() -> Callable[[str, int], str] | None:
    """The function named by ``$POLYEPO_HARNESS_SCRIPTED_ROLLOUT`` (``module:function``), or None."""
    target = os.environ.get(SCRIPT_ENV_VAR, "")
    if not target:
        return None
    module, _, name = target.partition(":")
    function = getattr(importlib.import_module(module), name, None) if name else None
    if not callable(function):
        # A wrong setting's value, not a wrong argument's type.
        raise ValueError(  # noqa: TRY004
            f"{SCRIPT_ENV_VAR}={target!r}: expected 'package.module:function' naming a function"
        )
    return function


def request_seed(seed: int, global_steps: int | None, prompt_ids: list[int], request: str) -> int:
    """The sampling seed of one request, a function of (seed, step, prompt, ``request``) only."""
    key = f"{seed}/{global_steps}/{','.join(map(str, prompt_ids))}/{request}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


class HFRolloutServer:
    """Token-in/token-out generation server (wrapped with ``ray.remote`` at launch)."""

    def __init__(self, model_path: str, response_length: int, seed: int = 0):
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        # Each request draws from its own seed: one global RNG would make the draws depend on
        # the order in which the agent loop's concurrent requests arrive, which varies.
        self.seed = seed
        self.requests_per_prompt: Counter = Counter()
        self.model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=torch.float32, attn_implementation="eager"
        ).eval()
        self.response_length = int(response_length)
        eos = GenerationConfig.from_model_config(self.model.config).eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else ([] if eos is None else [eos]))
        self.global_steps = None
        self.script = scripted_responder()
        self.tokenizer = AutoTokenizer.from_pretrained(model_path) if self.script else None

    async def ready(self) -> bool:
        return True

    async def generate(self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str = "", **kwargs):
        sp = sampling_params or {}
        max_new = int(sp.get("max_tokens") or sp.get("max_new_tokens") or self.response_length)
        temperature = float(sp.get("temperature", 1.0))
        top_k = int(sp.get("top_k", -1) if sp.get("top_k") is not None else -1)
        top_p = float(sp.get("top_p", 1.0) if sp.get("top_p") is not None else 1.0)

        prompt_ids = list(prompt_ids)
        seed = request_seed(self.seed, self.global_steps, prompt_ids, self._request_key(request_id, prompt_ids))
        if self.script is not None:
            tokens, log_probs = self._scripted(prompt_ids, seed, max_new, temperature)
        else:
            tokens, log_probs = self._sample(prompt_ids, seed, max_new, temperature, top_k, top_p)
        return TokenOutput(
            token_ids=tokens,
            log_probs=log_probs,
            stop_reason="completed",
            num_preempted=0,
            extra_fields={"global_steps": self.global_steps},
        )

    def _sample(
        self, prompt_ids: list[int], seed: int, max_new: int, temperature: float, top_k: int, top_p: float
    ) -> tuple[list[int], list[float]]:
        generator = torch.Generator().manual_seed(seed)
        tokens: list[int] = []
        log_probs: list[float] = []
        inputs = torch.tensor([prompt_ids], dtype=torch.long)
        past = None
        for _ in range(max_new):
            with torch.no_grad():  # a decorator would not cover the coroutine's body
                out = self.model(input_ids=inputs, past_key_values=past, use_cache=True)
            past = out.past_key_values
            token, logp = _sample_next(out.logits[0, -1], temperature, top_k, top_p, generator)
            tokens.append(token)
            log_probs.append(logp)
            if token in self.eos_ids:  # like vLLM, the eos token is part of the output
                break
            inputs = torch.tensor([[token]], dtype=torch.long)
        return tokens, log_probs

    def _scripted(
        self, prompt_ids: list[int], seed: int, max_new: int, temperature: float
    ) -> tuple[list[int], list[float]]:
        """The script's text as tokens (closed by eos, cut at ``max_new``) and the model's
        log-probs of them under ``softmax(logits / T)``, as ``_sample_next`` reports them."""
        text = self.script(self.tokenizer.decode(prompt_ids), seed)
        tokens = (self.tokenizer.encode(text, add_special_tokens=False) + [self.tokenizer.eos_token_id])[:max_new]
        with torch.no_grad():
            logits = self.model(input_ids=torch.tensor([prompt_ids + tokens], dtype=torch.long)).logits[0]
        scale = temperature if temperature > 0 else 1.0
        logp = torch.log_softmax(logits[len(prompt_ids) - 1 : -1].float() / scale, dim=-1)
        return tokens, logp.gather(-1, torch.tensor(tokens, dtype=torch.long).unsqueeze(-1)).squeeze(-1).tolist()

    def _request_key(self, request_id: str, prompt_ids: list[int]) -> str:
        """Which sample of its prompt a request is: verl's stable id under
        ``rollout.full_determinism`` (``det-<row>``), else the order of arrival among this step's
        requests of the prompt (the same samples, but which row gets which can vary)."""
        if request_id.startswith("det-"):
            return request_id
        occurrence = self.requests_per_prompt[tuple(prompt_ids)]
        self.requests_per_prompt[tuple(prompt_ids)] += 1
        return f"arrival-{occurrence}"

    async def update_weights(self, named_tensors: dict[str, torch.Tensor], global_steps: int | None = None) -> int:
        state = self.model.state_dict()
        loaded = 0
        with torch.no_grad():
            for name, tensor in named_tensors.items():
                if name in state:
                    state[name].copy_(tensor.to(state[name].dtype))
                    loaded += 1
        if loaded == 0:
            raise RuntimeError(f"hf rollout: none of {len(named_tensors)} tensors matched the model's names")
        self.global_steps = global_steps
        self.requests_per_prompt.clear()
        return loaded

    # Control calls verl makes on every server; nothing to do on CPU.
    async def wake_up(self, *args, **kwargs): ...
    async def sleep(self, *args, **kwargs): ...
    async def abort_all_requests(self, *args, **kwargs): ...
    async def resume_generation(self, *args, **kwargs): ...
    async def clear_kv_cache(self, *args, **kwargs): ...
    async def release_kv_cache(self, *args, **kwargs): ...
    async def resume_kv_cache(self, *args, **kwargs): ...
    async def start_profile(self, *args, **kwargs): ...
    async def stop_profile(self, *args, **kwargs): ...


def _model_path(model_config: Any) -> str:
    path = model_config.get("path") if hasattr(model_config, "get") else getattr(model_config, "path")
    return os.path.expanduser(str(path))


class HFReplica(RolloutReplica):
    """One ``HFRolloutServer`` per replica (an ``HFChatServer`` for a reward model); it takes no
    Ray CPU so it never blocks placement."""

    # A reward model's replica: verl would start GPU workers on the pool first; the server here
    # needs none (it ignores self.workers either way).
    async def init_colocated(self, resource_pool):
        self.rollout_mode, self.resource_pool = RolloutMode.COLOCATED, resource_pool
        await self.launch_servers()

    async def init_standalone(self):
        if self.is_reward_model:
            self.rollout_mode = RolloutMode.STANDALONE
            await self.launch_servers()
            return
        # A rollout apart from the actor (one-step-off-policy, fully async, v1 separate_async):
        # verl's own standalone start, whose checkpoint workers (one logical GPU each) receive
        # the weights from a checkpoint engine (``checkpoint_engine``) and hand them to this
        # replica's server through ``HFServerAdapter``.
        await super().init_standalone()

    async def launch_servers(self):
        if self.is_reward_model:
            await self._launch_chat_server()
            return
        name = server_actor_name(self.replica_rank)
        handle = (
            ray.remote(HFRolloutServer)
            .options(name=name, num_cpus=0, max_concurrency=self.max_concurrency, get_if_exists=True)
            .remote(_model_path(self.model_config), self.config.response_length, self.config.seed or 0)
        )
        await handle.ready.remote()
        self.servers = [handle]
        self._server_handle = handle
        self._server_address = f"hf://{name}"

    async def _launch_chat_server(self):
        handle = (
            ray.remote(HFChatServer)
            .options(num_cpus=0, max_concurrency=self.max_concurrency)
            .remote(_model_path(self.model_config), self.config.max_model_len, self.config.seed or 0)
        )
        self.servers = [handle]
        self._server_handle = handle
        self._server_address = await handle.address.remote()


class HFServerAdapter(BaseRollout):
    """Lives in the FSDP worker; pushes the actor's weights to this replica's server."""

    def __init__(self, config, model_config, device_mesh=None, replica_rank: int = -1, **kwargs):
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        world = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // world if replica_rank == -1 else replica_rank
        self.is_leader = rank % world == 0
        self._server = None

    async def resume(self, tags: list[str]):
        return None

    async def release(self):
        return None

    async def update_weights(self, weights, wire_format: str = "named_tensors", **kwargs):
        if wire_format != "named_tensors":
            raise ValueError(f"hf rollout supports wire_format='named_tensors' only, got {wire_format!r}")
        # Drain the generator on every rank: FSDP's full_tensor() is a collective.
        tensors = {}
        if hasattr(weights, "__aiter__"):
            async for name, tensor in weights:
                tensors[name] = tensor.detach().to("cpu").clone()
        else:
            for name, tensor in weights:
                tensors[name] = tensor.detach().to("cpu").clone()
        if not self.is_leader:
            return
        if self._server is None:
            self._server = ray.get_actor(server_actor_name(self.replica_rank))
        await self._server.update_weights.remote(tensors, global_steps=kwargs.get("global_steps"))


def register_rollout() -> None:
    """Register ``rollout.name=hf`` in both of verl's rollout registries (idempotent)."""
    from verl.workers.rollout import base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    base._ROLLOUT_REGISTRY.setdefault((ROLLOUT_NAME, "async"), _ADAPTER_FQN)
    if ROLLOUT_NAME not in RolloutReplicaRegistry._registry:
        RolloutReplicaRegistry.register(ROLLOUT_NAME, lambda: HFReplica)


if is_active():  # the harness was applied in this process: make `rollout.name=hf` available
    register_rollout()
