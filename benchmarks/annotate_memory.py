"""Peak memory and throughput of `python -m spacy_torch_tagger annotate` as the input
grows: the peak RSS of the process that runs the command (os.wait4 on it), for inputs
of 100k, 1M and 5M lines, on the local engine (one process, which also tags) and on
Ray (two actors). The goal is a flat peak: the command streams its input.

The Ray engine joins a Ray cluster this script starts (`--ray-address`), so that Ray's
own processes (its services and the actors) are not children of the measured process:
they have memory of their own, which a cluster sizes per node. The local engine runs
with one process, so the measured process is the one that tags.

The input is the `# text =` sentences of UD English-EWT dev (2,001 short lines, 12.8
tokens on average), repeated to N lines, as JSONL with ids; shards of 10,000 lines.
Each run's output is deleted after it is measured (a 5M-line run writes ~5 GB of JSONL).
Results are merged by (engine, lines) into --output, so sizes can be run separately.

usage: python benchmarks/annotate_memory.py PIPELINE [--lines 100000,1000000]
           [--engines local,ray] [--output benchmarks/results/annotate_memory.json]
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

from machine import machine_description

REPO = Path(__file__).resolve().parent.parent
DEV_CONLLU = REPO.parent / "shared" / "corpora" / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
TEXT_PREFIX = "# text = "
SHARD_SIZE = 10_000
RAY_ACTORS = 2


def dev_sentences(path: Path) -> List[str]:
    """The raw sentences of a CoNLL-U file (its `# text =` lines)."""
    with path.open(encoding="utf-8") as lines:
        return [line[len(TEXT_PREFIX) :].rstrip("\n") for line in lines if line.startswith(TEXT_PREFIX)]


def write_input(sentences: List[str], n_lines: int, path: Path) -> None:
    """`n_lines` JSONL lines {"id": i, "text": ...}, the sentences repeated."""
    with path.open("w", encoding="utf-8") as file:
        for i in range(n_lines):
            file.write(json.dumps({"id": i, "text": sentences[i % len(sentences)]}) + "\n")


def measure(argv: List[str], output: Path) -> Dict[str, Any]:
    """Run the command; its exit status, wall time, own peak RSS and manifest numbers."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "spacy_torch_tagger", *argv], stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    err = process.stderr.read()  # the command writes little to stderr with --no-progress
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"annotate failed ({process.returncode}): {err[-3000:]}")
    manifest = json.loads((output / "_manifest.json").read_text(encoding="utf-8"))
    tagged = manifest["tagged_this_run"]
    return {
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "seconds": round(seconds, 1),
        "documents": tagged["documents"],
        "words": tagged["words"],
        "words_per_second": round(tagged["words"] / seconds, 1),
        "shards": len(manifest["shards"]),
    }


def start_ray() -> str:
    """Start a local Ray cluster of RAY_ACTORS CPUs, joined by this process; its address."""
    import ray

    ray.init(num_cpus=RAY_ACTORS, include_dashboard=False, log_to_driver=False)
    return str(ray.get_runtime_context().gcs_address)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pipeline", help="a trained pipeline directory (e.g. /tmp/demo_model/model-best)")
    parser.add_argument("--lines", default="100000,1000000,5000000", help="comma-separated input sizes")
    parser.add_argument("--engines", default="local,ray", help="a comma-separated subset of local,ray")
    parser.add_argument("--dev", type=Path, default=DEV_CONLLU, help="the CoNLL-U file of the sentences")
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "annotate_memory.json"
    )
    args = parser.parse_args()
    engines = args.engines.split(",")
    results: Dict[str, Any] = (
        json.loads(args.output.read_text(encoding="utf-8")) if args.output.exists() else {"runs": {}}
    )
    results.update(
        {
            "command": " ".join(["python", *sys.argv]),
            "pipeline": args.pipeline,
            "input": f"{args.dev.name} sentences repeated, JSONL, shards of {SHARD_SIZE} lines",
            "measured": "peak RSS of the annotate process itself (os.wait4); Ray's processes excluded",
            "machine": machine_description(),
            "python": platform.python_version(),
        }
    )
    sentences = dev_sentences(args.dev)
    ray_address = start_ray() if "ray" in engines else None
    try:
        for n_lines in [int(n) for n in args.lines.split(",")]:
            with tempfile.TemporaryDirectory(prefix="annotate_memory_") as folder:
                input_path = Path(folder) / "input.jsonl"
                write_input(sentences, n_lines, input_path)
                for engine in engines:
                    output = Path(folder) / engine
                    argv = ["annotate", args.pipeline, str(input_path), str(output)]
                    argv += ["--shard-size", str(SHARD_SIZE), "--no-progress"]
                    if engine == "ray" and ray_address is not None:
                        argv += [
                            "--engine",
                            "ray",
                            "--n-process",
                            str(RAY_ACTORS),
                            "--ray-address",
                            ray_address,
                        ]
                    run = {
                        "engine": engine,
                        "lines": n_lines,
                        "benchmark_command": results["command"],
                        "command": "python -m spacy_torch_tagger " + " ".join(argv),
                        "load_average_before": os.getloadavg(),
                        **measure(argv, output),
                    }
                    shutil.rmtree(output)
                    results["runs"][f"{engine}-{n_lines}"] = run
                    print(json.dumps(run), file=sys.stderr)
                    args.output.parent.mkdir(parents=True, exist_ok=True)
                    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    finally:
        if ray_address is not None:
            import ray

            ray.shutdown()
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
