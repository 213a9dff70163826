"""Put the report together: analyse each pipeline's evaluation, draw, write report.md
(through the report.md.jinja template) and report.json."""

import json
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import jinja2
from spacy.training import Example

from . import figures, markdown as md
from .analysis import (
    FREQUENCY_BANDS,
    LENGTH_BANDS,
    SEEN_BANDS,
    Band,
    Confusion,
    LabelScore,
    Reliability,
    accuracy_by_band,
    confusion_matrix,
    frequent_labels,
    label_scores,
    reliability,
    top_confusions,
)
from .evaluation import ACCURACY_KEYS, Evaluation
from .tokens import ProbabilityOf, TokenTable, marked_context, no_probabilities, token_table

# How many labels the figures show, rows the label table shows, confusions the report lists.
TOP_LABELS = 15
TABLE_LABELS = 40
TOP_CONFUSIONS = 10
EXAMPLE_CONFUSIONS = 5
EXAMPLES_PER_CONFUSION = 3


@dataclass
class TargetAnalysis:
    """Everything the report says about one target of one pipeline (`table.contexts`
    index into `examples`)."""

    examples: List[Example]
    table: TokenTable
    labels: List[LabelScore]
    confusions: List[Confusion]
    seen: Optional[List[Band]]
    frequency: Optional[List[Band]]
    length: List[Band]
    reliability: Optional[Reliability]


def analyse(
    evaluation: Evaluation, target: str, word_counts: Optional[Counter], probability_of: ProbabilityOf
) -> TargetAnalysis:
    table = token_table(evaluation.examples, target, probability_of)
    correct = table.correct
    counts = None if word_counts is None else [word_counts.get(word, 0) for word in table.words]
    return TargetAnalysis(
        examples=evaluation.examples,
        table=table,
        labels=label_scores(table.gold, table.predicted),
        confusions=top_confusions(table.gold, table.predicted, TOP_CONFUSIONS),
        seen=None if counts is None else accuracy_by_band(counts, correct, SEEN_BANDS),
        frequency=None if counts is None else accuracy_by_band(counts, correct, FREQUENCY_BANDS),
        length=accuracy_by_band(table.sentence_lengths, correct, LENGTH_BANDS),
        reliability=reliability(table.probabilities, correct) if table.has_probabilities else None,
    )


def non_empty(bands: Sequence[Sequence[Band]]) -> List[List[Band]]:
    """The bands (per pipeline) that hold a token in some pipeline."""
    keep = [i for i in range(len(bands[0])) if any(b[i].tokens for b in bands)]
    return [[b[i] for i in keep] for b in bands]


def _band_rows(bands: Sequence[Sequence[Band]]) -> List[List[str]]:
    rows = []
    for i, band in enumerate(bands[0]):
        row = [band.name] + ["/".join(sorted({str(b[i].tokens) for b in bands}))]
        row += [md.percent(b[i].accuracy) for b in bands]
        if len(bands) == 2:
            row.append(md.difference(bands[1][i].accuracy, bands[0][i].accuracy))
        rows.append(row)
    return rows


TEMPLATE = "report.md.jinja"


def render_markdown(context: Dict[str, Any]) -> str:
    """report.md from the sections' context (see write); the layout is the template's."""
    # Markdown, not HTML: no autoescaping; cells arrive escaped by markdown.py.
    environment = jinja2.Environment(
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined, autoescape=False
    )
    environment.globals["image"] = md.image
    source = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf8")
    return environment.from_string(source).render(context).rstrip() + "\n"


def _pipeline_headers(names: Sequence[str], suffix: str = "") -> List[str]:
    headers = [md.escape(name) + suffix for name in names]
    if len(names) == 2:
        headers.append(f"{md.escape(names[1])} − {md.escape(names[0])}{suffix}")
    return headers


class ReportWriter:
    """Writes the report of one or two evaluations (the second is compared with the first)."""

    def __init__(
        self,
        evaluations: Sequence[Evaluation],
        output: Path,
        data_path: Path,
        gold_preproc: bool,
        word_counts: Optional[Counter] = None,
        train_path: Optional[Path] = None,
        probability_of: ProbabilityOf = no_probabilities,
    ) -> None:
        self.evaluations = list(evaluations)
        self.output = output
        self.data_path = data_path
        self.gold_preproc = gold_preproc
        self.word_counts = word_counts
        self.train_path = train_path
        self.targets = [t for t in ACCURACY_KEYS if any(t in e.targets for e in self.evaluations)]
        self.analyses: List[Dict[str, TargetAnalysis]] = [
            {t: analyse(e, t, word_counts, probability_of) for t in e.targets} for e in self.evaluations
        ]

    def write(self) -> Path:
        """Draw the figures, write report.md and report.json into the output folder."""
        self.output.mkdir(parents=True, exist_ok=True)
        context = {**self._header(), **self._accuracy(), "targets": [self._target(t) for t in self.targets]}
        path = self.output / "report.md"
        path.write_text(render_markdown(context), encoding="utf8")
        # The standard library's json, not srsly's: srsly.write_json rounds floats to 9 digits.
        report_json = json.dumps(self.json(), indent=2) + "\n"
        (self.output / "report.json").write_text(report_json, encoding="utf8")
        return path

    def _present(self, target: str) -> List[Tuple[str, TargetAnalysis]]:
        """(pipeline name, analysis) of the pipelines that predict the target."""
        return [
            (e.name, a[target]) for e, a in zip(self.evaluations, self.analyses, strict=True) if target in a
        ]

    def _header(self) -> Dict[str, Any]:
        evaluations = self.evaluations
        first = evaluations[0].examples
        rows = [[md.escape(e.name), f"`{e.path}`", ", ".join(e.targets) or "none"] for e in evaluations]
        gold = "gold tokens (`--gold-preproc`)"
        return {
            "data_path": str(self.data_path),
            "n_docs": len(first),
            "n_tokens": sum(len(eg.reference) for eg in first),
            "tokenization": gold if self.gold_preproc else "the pipeline's own tokenizer",
            "pipelines_table": md.table(["pipeline", "path", "targets scored"], rows),
            "compared": [md.escape(e.name) for e in evaluations] if len(evaluations) == 2 else None,
        }

    def _accuracy(self) -> Dict[str, Any]:
        names = [e.name for e in self.evaluations]
        keys = ["token_acc"] + [ACCURACY_KEYS[t] for t in self.targets]
        rows = []
        for key in keys:
            values = [e.scores.get(key) for e in self.evaluations]
            row = [key] + [md.percent(v) for v in values]
            if len(values) == 2:
                row.append(md.difference(values[1], values[0]))
            rows.append(row)
        accuracies: List[List[Optional[float]]] = [
            [e.scores.get(ACCURACY_KEYS[t]) for t in self.targets] for e in self.evaluations
        ]
        figure = None
        if self.targets:
            figure = "accuracy.png"
            figures.accuracy_figure(self.output / figure, self.targets, names, accuracies)
        compared = []
        for target in self.targets:
            for name, analysis in self._present(target):
                table = analysis.table
                compared.append([target, md.escape(name), str(len(table)), str(table.annotated)])
        return {
            "accuracy_table": md.table(["score", *_pipeline_headers(names)], rows, [False] + [True] * 3),
            "accuracy_figure": figure,
            "compared_table": md.table(
                ["target", "pipeline", "compared", "annotated gold"], compared, [False, False, True, True]
            ),
        }

    def _target(self, target: str) -> Dict[str, Any]:
        present = self._present(target)
        names = [name for name, _ in present]
        analyses = [analysis for _, analysis in present]
        return {
            "name": target,
            "only": md.escape(names[0]) if len(present) < len(self.evaluations) else None,
            **self._labels(target, names, analyses),
            **self._confusion_matrix(target, names, analyses),
            **self._confusions(names, analyses),
            **self._bands(target, names, analyses),
            **self._reliability(target, names, analyses),
        }

    def _labels(self, target: str, names: List[str], analyses: List[TargetAnalysis]) -> Dict[str, Any]:
        by_label = [{s.label: s for s in a.labels} for a in analyses]
        order = analyses[0].labels
        top = [s for s in order if s.support][:TOP_LABELS]
        figure = None
        if top:
            figure = f"labels_{target}.png"
            figures.label_f1_figure(
                self.output / figure,
                target,
                names,
                [s.label for s in top],
                [s.support for s in top],
                [[scores[s.label].f1 if s.label in scores else None for s in top] for scores in by_label],
            )
        headers = ["label", "gold"]
        for name in names:
            prefix = md.escape(name) + " " if len(names) == 2 else ""
            headers += [f"{prefix}P", f"{prefix}R", f"{prefix}F1"]
        if len(names) == 2:
            headers.append("ΔF1")
        labels = list(
            dict.fromkeys([s.label for s in order] + [s.label for a in analyses[1:] for s in a.labels])
        )
        rows = []
        for label in labels[:TABLE_LABELS]:
            found = [scores.get(label) for scores in by_label]
            support = next(s.support for s in found if s is not None)
            row = [md.label(label), str(support)]
            for s in found:
                row += [md.percent(v) for v in ((s.precision, s.recall, s.f1) if s else (None, None, None))]
            if len(found) == 2:
                f1 = [None if s is None else s.f1 for s in found]
                row.append(md.difference(f1[1], f1[0]))
            rows.append(row)
        return {
            "labels_figure": figure,
            "labels_table": md.table(headers, rows, [False] + [True] * (len(headers) - 1)),
            "rarer_labels": max(len(labels) - TABLE_LABELS, 0),
        }

    def _confusion_matrix(
        self, target: str, names: List[str], analyses: List[TargetAnalysis]
    ) -> Dict[str, Any]:
        labels = frequent_labels(analyses[0].table.gold, TOP_LABELS)
        if not labels:
            return {"confusion_figure": None, "confusion_labels": 0}
        matrices = [confusion_matrix(a.table.gold, a.table.predicted, labels) for a in analyses]
        figure = f"confusion_{target}.png"
        figures.confusion_figure(self.output / figure, target, names, labels, matrices)
        return {"confusion_figure": figure, "confusion_labels": len(labels)}

    def _confusions(self, names: List[str], analyses: List[TargetAnalysis]) -> Dict[str, Any]:
        counts = [{(c.gold, c.predicted): c.count for c in a.confusions} for a in analyses]
        full = [
            Counter((g, p) for g, p in zip(a.table.gold, a.table.predicted, strict=True) if g != p)
            for a in analyses
        ]
        pairs = list(dict.fromkeys(pair for c in counts for pair in c))
        pairs.sort(key=lambda pair: (-max(f[pair] for f in full), pair))
        if not pairs:
            return {"confusions_table": None, "examples": []}
        rows = []
        for gold, predicted in pairs:
            values = [f[(gold, predicted)] for f in full]
            row = [md.label(gold), md.label(predicted), *map(str, values)]
            if len(values) == 2:
                row.append(md.count_difference(values[1], values[0]))
            rows.append(row)
        headers = ["gold", "predicted", *_pipeline_headers(names)]
        examples = []
        for name, analysis in zip(names, analyses, strict=True):
            confusions = []
            for confusion in analysis.confusions[:EXAMPLE_CONFUSIONS]:
                contexts = []
                for index in confusion.tokens[:EXAMPLES_PER_CONFUSION]:
                    eg_i, token_i = analysis.table.contexts[index]
                    contexts.append(md.marked(marked_context(analysis.examples[eg_i].reference, token_i)))
                confusions.append(
                    {
                        "gold": md.label(confusion.gold),
                        "predicted": md.label(confusion.predicted),
                        "count": confusion.count,
                        "contexts": contexts,
                    }
                )
            title = f"Examples, {md.escape(name)} (the token in bold):" if len(names) == 2 else "Examples:"
            examples.append({"title": title, "confusions": confusions})
        return {
            "confusions_table": md.table(headers, rows, [False, False] + [True] * 3),
            "examples": examples,
        }

    def _bands(self, target: str, names: List[str], analyses: List[TargetAnalysis]) -> Dict[str, Any]:
        headers = ["tokens", *_pipeline_headers(names, " acc")]
        right = [False] + [True] * len(headers)
        panels: List[Tuple[str, List[List[Band]]]] = []
        train_bands = None
        if self.word_counts is not None:
            seen = non_empty([a.seen or [] for a in analyses])
            frequency = non_empty([a.frequency or [] for a in analyses])
            panels += [("seen in training?", seen), ("count in training", frequency)]
            train_bands = {
                "path": md.escape(str(self.train_path)),
                "seen_table": md.table(["seen in training", *headers], _band_rows(seen), right),
                "frequency_table": md.table(["count in training", *headers], _band_rows(frequency), right),
            }
        length = non_empty([a.length for a in analyses])
        panels.append(("sentence length", length))
        figure = f"bands_{target}.png"
        figures.bands_figure(self.output / figure, target, names, panels)
        return {
            "train_bands": train_bands,
            "length_table": md.table(["sentence length", *headers], _band_rows(length), right),
            "bands_figure": figure,
        }

    def _reliability(self, target: str, names: List[str], analyses: List[TargetAnalysis]) -> Dict[str, Any]:
        reliabilities = [a.reliability for a in analyses]
        if all(rel is None for rel in reliabilities):
            return {"reliability_table": None, "reliability_figure": None}
        figure = f"reliability_{target}.png"
        figures.reliability_figure(self.output / figure, target, names, reliabilities)
        rows = []
        for name, rel in zip(names, reliabilities, strict=True):
            if rel is None:
                rows.append([md.escape(name), "0", "—"])
            else:
                rows.append([md.escape(name), str(rel.tokens), md.percent(rel.expected_calibration_error)])
        if len(reliabilities) == 2:
            ece = [None if rel is None else rel.expected_calibration_error for rel in reliabilities]
            rows.append([f"{md.escape(names[1])} − {md.escape(names[0])}", "", md.difference(ece[1], ece[0])])
        return {
            "reliability_table": md.table(
                ["pipeline", "tokens with a probability", "ECE (%)"], rows, [False, True, True]
            ),
            "reliability_figure": figure,
        }

    def json(self) -> Dict[str, Any]:
        """The report's numbers: spaCy's scores and the per-token analysis of every target."""
        pipelines = []
        for evaluation, analyses in zip(self.evaluations, self.analyses, strict=True):
            targets = {t: _analysis_json(evaluation.scores[ACCURACY_KEYS[t]], a) for t, a in analyses.items()}
            pipelines.append(
                {
                    "name": evaluation.name,
                    "path": evaluation.path,
                    "scores": evaluation.scores,
                    "targets": targets,
                }
            )
        result: Dict[str, Any] = {
            "data": str(self.data_path),
            "gold_preproc": self.gold_preproc,
            "train": None if self.train_path is None else str(self.train_path),
            "pipelines": pipelines,
        }
        if len(self.evaluations) == 2:
            first, second = (e.scores for e in self.evaluations)
            keys = ["token_acc"] + [ACCURACY_KEYS[t] for t in self.targets]
            result["differences"] = {
                key: second[key] - first[key]
                for key in keys
                if first.get(key) is not None and second.get(key) is not None
            }
        return result


def _bands_json(bands: Optional[List[Band]]) -> Optional[List[Dict[str, Any]]]:
    if bands is None:
        return None
    return [{"band": b.name, "tokens": b.tokens, "correct": b.correct, "accuracy": b.accuracy} for b in bands]


def _analysis_json(accuracy: float, analysis: TargetAnalysis) -> Dict[str, Any]:
    rel = analysis.reliability
    return {
        "accuracy": accuracy,
        "tokens_compared": len(analysis.table),
        "tokens_annotated": analysis.table.annotated,
        "labels": [
            {
                "label": s.label,
                "support": s.support,
                "predicted": s.predicted,
                "correct": s.correct,
                "precision": s.precision,
                "recall": s.recall,
                "f1": s.f1,
            }
            for s in analysis.labels
        ],
        "confusions": [
            {"gold": c.gold, "predicted": c.predicted, "count": c.count} for c in analysis.confusions
        ],
        "seen": _bands_json(analysis.seen),
        "frequency_bands": _bands_json(analysis.frequency),
        "sentence_length_bands": _bands_json(analysis.length),
        "reliability": None
        if rel is None
        else {
            "tokens": rel.tokens,
            "expected_calibration_error": rel.expected_calibration_error,
            "bins": [vars(b) for b in rel.bins],
        },
    }
