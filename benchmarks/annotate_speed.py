"""Words per second of `python -m spacy_torch_tagger annotate`: the local engine on 1
and 2 processes and the Ray engine (a local Ray started for the run, or --ray-address;
--ray-workers actors, each tagging whole shards that Ray Data's Datasink writes), all
in one run on the same input.

The input is UD English-EWT dev text (one sentence per line, from the .spacy corpus
when present, else from the CoNLL-U `# text =` lines) repeated to about --words
words, written as JSONL. Each engine writes its own output directory; its time is
the wall-clock time of the whole run (pipeline loading, and Ray's start-up for the
Ray engine, included); `seconds_tagging` leaves out only the first pass over the
input (the check of every line), counting from the pipeline's loading (local) or
Ray's start (ray) to the last record.

usage: python benchmarks/annotate_speed.py PIPELINE [--words 1000000] [--output FILE.json]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import spacy
from machine import machine_description
from spacy.tokens import DocBin

from spacy_torch_tagger.annotate.job import AnnotateOptions, annotate

REPO = Path(__file__).resolve().parent.parent
DEV_SPACY = REPO / "training" / "ewt_corpus" / "en_ewt-ud-dev.spacy"
DEV_CONLLU = REPO.parent / "shared" / "corpora" / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
# name: (engine, local processes)
ENGINES = {
    "local-1": ("local", 1),
    "local-2": ("local", 2),
    "ray": ("ray", None),
}


def dev_texts(path: Path) -> List[str]:
    """The raw sentence texts of a .spacy corpus or a CoNLL-U file."""
    if path.suffix == ".spacy":
        return [doc.text for doc in DocBin().from_disk(path).get_docs(spacy.blank("en").vocab)]
    prefix = "# text = "
    with path.open(encoding="utf-8") as lines:
        return [line[len(prefix) :].rstrip("\n") for line in lines if line.startswith(prefix)]


def write_input(texts: List[str], words: int, path: Path) -> Dict[str, int]:
    """Write the texts, repeated until about `words` words (spaCy's English tokens), as JSONL."""
    tokenizer = spacy.blank("en").tokenizer
    counts = [len(tokenizer(text)) for text in texts]
    written = documents = 0
    with path.open("w", encoding="utf-8") as file:
        while written < words:
            for text, count in zip(texts, counts, strict=True):
                file.write(json.dumps({"id": documents, "text": text}) + "\n")
                written += count
                documents += 1
                if written >= words:
                    break
    return {"documents": documents, "words": written}


def git_commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pipeline", help="a trained pipeline directory or package")
    parser.add_argument("--dev", type=Path, default=DEV_SPACY if DEV_SPACY.exists() else DEV_CONLLU)
    parser.add_argument("--words", type=int, default=1_000_000, help="about this many words of input")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"a comma-separated subset of {list(ENGINES)}"
    )
    parser.add_argument("--ray-workers", type=int, default=2, help="Ray actors (default 2)")
    parser.add_argument("--ray-address", default=None, help="a Ray cluster to join instead of a local one")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--shard-size",
        type=int,
        default=1_000,
        help="input lines per shard, the Ray engine's unit of work",
    )
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "annotate_speed.json"
    )
    args = parser.parse_args()

    texts = dev_texts(args.dev)
    results: Dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": git_commit(),
        "pipeline": args.pipeline,
        "dev": str(args.dev),
        "machine": machine_description(),
        "load_average_before": os.getloadavg(),
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "batch_size": args.batch_size,
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="annotate_speed_") as folder:
        input_path = Path(folder) / "input.jsonl"
        results["input"] = write_input(texts, args.words, input_path)
        print(f"input: {results['input']}", file=sys.stderr)
        for name in args.engines.split(","):
            engine, n_process = ENGINES[name]
            options = AnnotateOptions(
                pipeline=args.pipeline,
                input=input_path,
                output=Path(folder) / name,
                engine=engine,
                n_process=n_process if engine == "local" else args.ray_workers,
                batch_size=args.batch_size,
                shard_size=args.shard_size,
                ray_address=args.ray_address,
                progress=False,
            )
            start = time.perf_counter()
            manifest = annotate(options)
            seconds = time.perf_counter() - start
            tagged = manifest["tagged_this_run"]
            run = {
                "engine": engine,
                "workers": options.n_process,
                "seconds": round(seconds, 2),
                "words_per_second": round(tagged["words"] / seconds, 1),
                "seconds_tagging": tagged["seconds"],
                "records": manifest["records"],
            }
            if engine == "ray":
                import ray

                run["ray"] = ray.__version__
                run["ray_address"] = args.ray_address or "local, started for the run"
            results["runs"][name] = run
            print(f"{name}: {run}", file=sys.stderr)
    results["load_average_after"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
