#!/usr/bin/env bash
# Serve the strategy judge with vLLM's OpenAI-compatible server.
#
#   bash examples/judge/serve_judge.sh                     # Qwen3-4B instruct on GPU 0, port 8000
#   JUDGE_GPU=3 JUDGE_PORT=8001 bash examples/judge/serve_judge.sh --max-num-seqs 64
#
# The paper labelled strategies with a Qwen3-4B instruct model. One request per prompt group
# carries all N responses (8 x up to 4096 tokens in the paper's setting), so the context must
# hold about N x the response budget plus the prompt: 40k tokens by default. Point the plugin
# at it with the overrides in judge_overrides.sh. Loading the model takes minutes: start it in
# the background and wait until it answers before launching training:
#
#   bash examples/judge/serve_judge.sh > judge.log 2>&1 &
#   python examples/judge/wait_for_judge.py --timeout-s 1200
set -xeuo pipefail

JUDGE_MODEL=${JUDGE_MODEL:-Qwen/Qwen3-4B-Instruct-2507}
JUDGE_SERVED_NAME=${JUDGE_SERVED_NAME:-judge}
JUDGE_PORT=${JUDGE_PORT:-8000}
JUDGE_GPU=${JUDGE_GPU:-0}
JUDGE_MAX_MODEL_LEN=${JUDGE_MAX_MODEL_LEN:-40960}
JUDGE_GPU_MEMORY_UTILIZATION=${JUDGE_GPU_MEMORY_UTILIZATION:-0.85}

# An API key is optional; when POLYEPO_JUDGE_API_KEY is set the server requires it and the
# plugin sends it (it reads the same variable).
api_key_args=()
if [[ -n "${POLYEPO_JUDGE_API_KEY:-}" ]]; then
  api_key_args=(--api-key "$POLYEPO_JUDGE_API_KEY")
fi

set +x  # do not echo the key
export CUDA_VISIBLE_DEVICES="$JUDGE_GPU"
exec vllm serve "$JUDGE_MODEL" \
  --served-model-name "$JUDGE_SERVED_NAME" \
  --host 0.0.0.0 --port "$JUDGE_PORT" \
  --max-model-len "$JUDGE_MAX_MODEL_LEN" \
  --gpu-memory-utilization "$JUDGE_GPU_MEMORY_UTILIZATION" \
  --generation-config vllm \
  "${api_key_args[@]}" "$@"
