"""Wall time of commands with 1 and 2 torch threads, on an idle machine and with
the other cores busy.

torch's intra-op threads wait for each other at the end of every parallel
region. When another process holds a core, one thread is descheduled and the
other waits for it, so two threads can be far slower than one. This script
measures that: each command runs with OMP_NUM_THREADS set (torch reads it at
start-up), alone and beside `--busy` processes that spin on a core each.

    python benchmarks/torch_threads.py --busy 1 --output benchmarks/results/torch_threads.json \
        --command "python -m pytest -q -p no:cacheprovider" --command "python -m spacy train configs/demo.cfg"
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from machine import machine_description

SPIN = "while True:\n    pass\n"


def timed(command: str, threads: int, busy: int, cwd: Path, timeout: float) -> Dict[str, object]:
    """Run `command` once with OMP_NUM_THREADS=threads beside `busy` spinning processes."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
    try:
        start = time.perf_counter()
        result = subprocess.run(
            command,
            shell=True,
            cwd=cwd,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        seconds = time.perf_counter() - start
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    if result.returncode != 0:
        raise RuntimeError(
            f"{command!r} failed with {threads} threads:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return {"command": command, "threads": threads, "busy_cores": busy, "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--command", action="append", required=True, help="shell command to time (repeatable)"
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--busy", type=int, default=1, help="spinning processes in the busy runs")
    parser.add_argument("--cwd", type=Path, default=Path.cwd())
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    runs: List[Dict[str, object]] = []
    for command in args.command:
        for busy in (0, args.busy):
            for threads in args.threads:
                run = timed(command, threads, busy, args.cwd, args.timeout)
                print(json.dumps(run), flush=True)
                runs.append(run)
    if args.output:
        report = {"machine": machine_description(), "runs": runs}
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    main()
