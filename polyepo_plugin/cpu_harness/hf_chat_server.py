"""The ``hf`` replica's reward-model server: OpenAI-style chat completions over HTTP on 127.0.0.1.

verl's ``RewardModelManager`` starts one server per replica and puts its router in front of
their addresses (``host:port``); requests reach them as ``/v1/chat/completions`` and
``/v1/models``, as they would reach ``vllm serve``. Like vLLM, the server answers only to the
model name it serves (the model path) and refuses a request longer than its context
(``rollout.max_model_len``, else the model's ``max_position_embeddings``). Generation is plain
transformers on CPU, one request at a time. When ``POLYEPO_CPU_RM_LOG`` names a file (the
environment reaches Ray's workers of a local cluster), each request appends a JSON line to it.
When ``POLYEPO_CPU_RM_REPLY`` is set, every chat request that passes the server's checks is
answered with that text instead of the model's (a judge whose answer a test knows: a tiny
random model's never parses). TEST/DEMO only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

LOG_ENV = "POLYEPO_CPU_RM_LOG"
REPLY_ENV = "POLYEPO_CPU_RM_REPLY"


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the judge sends a step's groups at once
    daemon_threads = True


class HFChatServer:
    """A Ray actor (wrapped with ``ray.remote`` at launch) serving one HF causal LM over HTTP."""

    def __init__(self, model_path: str, max_model_len: int | None, seed: int = 0):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.manual_seed(seed)
        self.model_name = model_path
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
        self.max_model_len = int(max_model_len or self.model.config.max_position_embeddings)
        self._generate_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._http = _Server(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._http.serve_forever, name="hf-chat-server", daemon=True).start()

    async def address(self) -> str:
        return f"127.0.0.1:{self._http.server_address[1]}"

    def chat_completion(self, body: dict) -> tuple[int, dict]:
        """``(status, json)`` for a ``/v1/chat/completions`` body."""
        if body.get("model") != self.model_name:
            return 404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}}
        prompt_ids = self.tokenizer.apply_chat_template(
            body.get("messages", []), add_generation_prompt=True, tokenize=True, return_dict=False
        )
        max_tokens = int(body.get("max_tokens") or 16)
        if len(prompt_ids) + max_tokens > self.max_model_len:
            message = (
                f"{len(prompt_ids)} prompt tokens + {max_tokens} max_tokens exceed max_model_len {self.max_model_len}"
            )
            return 400, {"error": {"message": message}}
        reply = os.environ.get(REPLY_ENV)
        if reply is not None:
            return 200, self._completion(reply, "stop")
        temperature = float(body.get("temperature") or 0.0)
        with self._generate_lock, torch.no_grad():
            output = self.model.generate(
                torch.tensor([prompt_ids]),
                attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                max_new_tokens=max_tokens,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_k=None,
                top_p=None,
                pad_token_id=self.tokenizer.pad_token_id,
            )[0, len(prompt_ids) :].tolist()
        eos = self.model.generation_config.eos_token_id
        stopped = any(token in (eos if isinstance(eos, list) else [eos]) for token in output)
        content = self.tokenizer.decode(output, skip_special_tokens=True)
        return 200, self._completion(content, "stop" if stopped else "length")

    def _completion(self, content: str, finish_reason: str) -> dict:
        choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}
        return {"object": "chat.completion", "model": self.model_name, "choices": [choice]}

    def _log(self, path: str, status: int, body: dict) -> None:
        log_path = os.environ.get(LOG_ENV)
        if not log_path:
            return
        messages = body.get("messages") or [{}]
        line = {
            "time": time.time(),
            "path": path,
            "status": status,
            "model": body.get("model"),
            "prompt": messages[-1].get("content", ""),
        }
        with self._log_lock, open(log_path, "a") as log_file:
            log_file.write(json.dumps(line) + "\n")

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the judge sends many requests
                pass

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    self._reply(200, {"object": "list", "data": [{"id": server.model_name, "object": "model"}]})
                else:
                    self._reply(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.rstrip("/") == "/v1/chat/completions":
                    status, payload = server.chat_completion(body)
                else:
                    status, payload = 404, {"error": {"message": f"no route {self.path}"}}
                server._log(self.path, status, body)
                self._reply(status, payload)

        return Handler

    # Control calls verl's RewardModelManager makes on every server; nothing to free on CPU.
    async def wake_up(self, *args, **kwargs): ...
    async def sleep(self, *args, **kwargs): ...
