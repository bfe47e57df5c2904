"""Wait until the judge from serve_judge.sh answers, so training does not race its model load.

    JUDGE_GPU=4 bash examples/judge/serve_judge.sh > judge.log 2>&1 &
    python examples/judge/wait_for_judge.py --timeout-s 1200 && bash examples/paper_qwen3_4b_polaris/run_poly_epo.sh

Polls ``GET <base-url>/models`` (vLLM listens only once the model is loaded) until it answers
200, then exits 0. Exits 1 when the timeout passes first, or at once when the server refuses the
API key. The address defaults to judge_overrides.sh's: http://$JUDGE_HOST:$JUDGE_PORT/v1
(127.0.0.1:8000); POLYEPO_JUDGE_API_KEY, when set, is sent as serve_judge.sh expects it. Only
the standard library: it runs in any Python, with or without polyepo installed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request

API_KEY_ENV = "POLYEPO_JUDGE_API_KEY"


def default_base_url() -> str:
    return f"http://{os.environ.get('JUDGE_HOST', '127.0.0.1')}:{os.environ.get('JUDGE_PORT', '8000')}/v1"


def wait_for_judge(base_url: str, timeout_s: float, interval_s: float = 2.0, log=print) -> bool:
    """True as soon as ``base_url/models`` answers 200; False when ``timeout_s`` passes first.
    A 401/403 (the server wants another API key) raises ``PermissionError``: waiting cannot fix it."""
    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {os.environ[API_KEY_ENV]}"} if os.environ.get(API_KEY_ENV) else {}
    deadline = time.monotonic() + timeout_s
    last_error = "no attempt"
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=max(interval_s, 1.0)):
                return True
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                raise PermissionError(
                    f"{url} answered {error.code}: the judge wants an API key; export {API_KEY_ENV} as when "
                    "serve_judge.sh was started"
                ) from None
            last_error = f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:  # not listening yet, or the connection dropped
            last_error = str(getattr(error, "reason", error))
        left = deadline - time.monotonic()
        if left <= 0:
            log(f"[wait_for_judge] no judge answered at {url} within {timeout_s:g}s (last: {last_error})")
            return False
        time.sleep(min(interval_s, left))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--base-url", default=default_base_url(), help="the judge's OpenAI-compatible base URL")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--interval-s", type=float, default=2.0, help="seconds between attempts")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        ready = wait_for_judge(args.base_url, args.timeout_s, args.interval_s, log=lambda m: print(m, file=sys.stderr))
    except PermissionError as error:
        print(f"[wait_for_judge] {error}", file=sys.stderr)
        return 1
    if not ready:
        print("[wait_for_judge] is serve_judge.sh running? Its log says why it is not up.", file=sys.stderr)
        return 1
    print(f"[wait_for_judge] the judge answers at {args.base_url} ({time.monotonic() - start:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
