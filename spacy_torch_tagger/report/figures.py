"""The report's figures, drawn with matplotlib (the `report` extra) into PNG files.

Every function draws one figure for one or two pipelines (`names`, in the order of the
values) and writes it to `path`. Matplotlib is imported on the first call, and the
figures use the Agg canvas directly, so pyplot's global state is left alone.
"""

from collections import Counter
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy

from ..extras import install_hint
from .analysis import Band, Reliability

COLORS = ("#1f77b4", "#ff7f0e")
LABEL_CHARS = 32
DPI = 110


def _new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas, or an ImportError naming the extra to install."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "The evaluation report draws its figures with matplotlib, which is not installed: "
            + install_hint("report")
        ) from error
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> Path:
    figure.savefig(path, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.15)
    return path


def short(label: str, chars: int = LABEL_CHARS) -> str:
    """A label cut to `chars` characters with an ellipsis."""
    return label if len(label) <= chars else label[: chars - 1] + "…"


def short_labels(labels: Sequence[str], chars: int = LABEL_CHARS) -> List[str]:
    """Labels that fit in `chars` characters and stay distinct: a long morph analysis
    ("Mood=Ind|Number=Sing|Person=3") is shown by its values ("Ind|Sing|3"), then cut."""
    shown = []
    for label in labels:
        if len(label) > chars and "=" in label:
            label = "|".join(feature.split("=", 1)[-1] for feature in label.split("|"))
        shown.append(short(label, chars))
    seen: Counter = Counter()
    for i, label in enumerate(shown):
        seen[label] += 1
        if seen[label] > 1:
            shown[i] = f"{label} ({seen[label]})"
    return shown


def _offsets(n: int, width: float) -> List[float]:
    return [(i - (n - 1) / 2) * width for i in range(n)]


def accuracy_figure(
    path: Path, targets: Sequence[str], names: Sequence[str], values: Sequence[Sequence[Optional[float]]]
) -> Path:
    """Grouped bars: spaCy's accuracy per target (values[pipeline][target]), in percent."""
    figure = _new_figure(1.6 + 1.5 * len(targets) * len(names) ** 0.5, 3.6)
    axes = figure.add_subplot()
    width = 0.8 / len(names)
    x = numpy.arange(len(targets))
    for p, (name, row) in enumerate(zip(names, values, strict=True)):
        heights = [numpy.nan if v is None else 100 * v for v in row]
        bars = axes.bar(x + _offsets(len(names), width)[p], heights, width, label=name, color=COLORS[p])
        axes.bar_label(bars, labels=["" if v is None else f"{100 * v:.1f}" for v in row], fontsize=8)
    axes.set_xticks(x, [f"{t}_acc" for t in targets])
    axes.set_xlim(-0.6, len(targets) - 0.4)
    axes.set_ylim(0, 109)
    axes.set_ylabel("accuracy (%)")
    axes.set_title("Accuracy per target (spaCy's scorer)")
    if len(names) > 1:
        axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def label_f1_figure(
    path: Path,
    target: str,
    names: Sequence[str],
    labels: Sequence[str],
    supports: Sequence[int],
    f1: Sequence[Sequence[Optional[float]]],
) -> Path:
    """Horizontal grouped bars: F1 of the most frequent gold labels (f1[pipeline][label])."""
    height = 1.2 + 0.22 * len(labels) * (1 + 0.6 * (len(names) - 1))
    figure = _new_figure(7.0, max(height, 2.6))
    axes = figure.add_subplot()
    step = 0.8 / len(names)
    y = numpy.arange(len(labels))
    for p, (name, row) in enumerate(zip(names, f1, strict=True)):
        widths = [numpy.nan if v is None else 100 * v for v in row]
        bars = axes.barh(y + _offsets(len(names), step)[p], widths, step, label=name, color=COLORS[p])
        axes.bar_label(
            bars, labels=["" if v is None else f"{100 * v:.1f}" for v in row], fontsize=7, padding=2
        )
    shown = short_labels(labels)
    axes.set_yticks(y, [f"{label} ({n})" for label, n in zip(shown, supports, strict=True)], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 112)
    axes.set_xlabel("F1 (%)")
    axes.set_title(f"{target}: F1 of the {len(labels)} most frequent gold labels (gold count)", fontsize=10)
    if len(names) > 1:
        axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def _heatmap(axes: Any, matrix: numpy.ndarray, labels: Sequence[str], diverging: bool, y_labels: bool) -> Any:
    """Draw one matrix with its counts written in the cells; returns the image (for a colorbar)."""
    n = len(labels)
    if diverging:
        limit = max(1, int(numpy.abs(matrix).max()))
        image = axes.imshow(matrix, cmap="PuOr_r", vmin=-limit, vmax=limit)
        strength = numpy.abs(matrix) / limit
    else:
        totals = matrix.sum(axis=1, keepdims=True)
        strength = numpy.divide(matrix, totals, out=numpy.zeros(matrix.shape), where=totals > 0)
        image = axes.imshow(strength, cmap="Blues", vmin=0, vmax=1)
    font = 8 if n <= 12 else 7
    for i in range(n):
        for j in range(n):
            value = int(matrix[i, j])
            if value:
                color = "white" if strength[i, j] > 0.6 else "black"
                text = f"{value:+d}" if diverging else str(value)
                axes.text(j, i, text, ha="center", va="center", fontsize=font, color=color)
    shown = short_labels(labels, 24)
    axes.set_xticks(range(n), shown, rotation=90, fontsize=8)
    axes.set_yticks(range(n), shown if y_labels else [], fontsize=8)
    axes.set_xlabel("predicted")
    if y_labels:
        axes.set_ylabel("gold")
    return image


def confusion_figure(
    path: Path, target: str, names: Sequence[str], labels: Sequence[str], matrices: Sequence[numpy.ndarray]
) -> Path:
    """Confusion heatmaps (rows gold, columns predicted; counts written in the cells, colour
    the share of the gold row) over `labels` + "(other)" (left out when empty); with two
    pipelines a third panel shows the second's counts minus the first's."""
    shown = [*labels, "(other)"]
    if not any(m[-1].any() or m[:, -1].any() for m in matrices):
        shown, matrices = shown[:-1], [m[:-1, :-1] for m in matrices]
    panels: List[Tuple[str, numpy.ndarray, bool]] = [
        (name, m, False) for name, m in zip(names, matrices, strict=True)
    ]
    if len(matrices) == 2:
        panels.append((f"{names[1]} − {names[0]}", matrices[1] - matrices[0], True))
    digits = max(len(str(int(numpy.abs(m).max()))) + diverging for _, m, diverging in panels)
    side = 1.2 + (0.3 + 0.06 * max(0, digits - 3)) * len(shown)
    figure = _new_figure(side * len(panels) + 1.6 + 0.6 * (len(panels) > 2), side + 1.0)
    all_axes = [figure.add_subplot(1, len(panels), k + 1) for k in range(len(panels))]
    images = []
    for k, (axes, (title, matrix, diverging)) in enumerate(zip(all_axes, panels, strict=True)):
        images.append(_heatmap(axes, matrix, shown, diverging, y_labels=k == 0))
        axes.set_title(short(title, 40), fontsize=10)
    shares = [axes for axes, panel in zip(all_axes, panels, strict=True) if not panel[2]]
    figure.colorbar(images[0], ax=shares, shrink=0.7, label="share of the gold row", pad=0.02)
    if len(panels) > 2:
        figure.colorbar(images[-1], ax=all_axes[-1], shrink=0.7, label="tokens, second − first", pad=0.02)
    figure.suptitle(f"{target}: confusions among the {len(labels)} most frequent gold labels", fontsize=11)
    return _save(figure, path)


def bands_figure(
    path: Path, target: str, names: Sequence[str], panels: Sequence[Tuple[str, Sequence[Sequence[Band]]]]
) -> Path:
    """One panel per (title, bands[pipeline]): grouped bars of accuracy per band, token counts below."""
    widths = [max(2.6, 1.2 + 0.55 * len(bands[0]) * len(names) ** 0.5) for _, bands in panels]
    figure = _new_figure(sum(widths) + 0.8, 3.8)
    grid = figure.add_gridspec(1, len(panels), width_ratios=widths)
    for k, (title, bands) in enumerate(panels):
        axes = figure.add_subplot(grid[0, k])
        step = 0.8 / len(names)
        x = numpy.arange(len(bands[0]))
        for p, (name, row) in enumerate(zip(names, bands, strict=True)):
            heights = [numpy.nan if b.accuracy is None else 100 * b.accuracy for b in row]
            bars = axes.bar(x + _offsets(len(names), step)[p], heights, step, label=name, color=COLORS[p])
            labels = ["" if b.accuracy is None else f"{100 * b.accuracy:.0f}" for b in row]
            axes.bar_label(bars, labels=labels, fontsize=7)
        counts = ["/".join(sorted({str(row[i].tokens) for row in bands})) for i in range(len(bands[0]))]
        axes.set_xticks(x, [f"{b.name}\nn={n}" for b, n in zip(bands[0], counts, strict=True)], fontsize=7.5)
        axes.set_ylim(0, 109)
        axes.set_title(title, fontsize=10)
        if k == 0:
            axes.set_ylabel("accuracy (%)")
        if k == 0 and len(names) > 1:
            handles, labels = axes.get_legend_handles_labels()
            figure.legend(handles, labels, loc="outside lower center", ncols=len(names), fontsize=8)
    figure.suptitle(f"{target}: accuracy by band", fontsize=11)
    return _save(figure, path)


def reliability_figure(
    path: Path, target: str, names: Sequence[str], reliabilities: Sequence[Optional[Reliability]]
) -> Path:
    """Reliability diagram (accuracy against mean probability per bin, the diagonal is perfect
    calibration) above a histogram of the predicted labels' probabilities."""
    figure = _new_figure(5.2, 5.6)
    grid = figure.add_gridspec(2, 1, height_ratios=[3, 1.2])
    curve = figure.add_subplot(grid[0])
    histogram = figure.add_subplot(grid[1], sharex=curve)
    curve.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    for p, (name, rel) in enumerate(zip(names, reliabilities, strict=True)):
        if rel is None or not rel.tokens:
            continue
        used = [b for b in rel.bins if b.tokens]
        ece = rel.expected_calibration_error or 0.0
        curve.plot(
            [b.mean_probability for b in used],
            [b.accuracy for b in used],
            marker="o",
            color=COLORS[p],
            label=f"{short(name, 28)} (ECE {100 * ece:.2f})",
        )
        centres = [(b.low + b.high) / 2 for b in rel.bins]
        step = (rel.bins[0].high - rel.bins[0].low) * 0.8 / len(names)
        histogram.bar(
            numpy.asarray(centres) + _offsets(len(names), step)[p],
            [b.tokens for b in rel.bins],
            step,
            color=COLORS[p],
        )
    curve.set_xlim(0, 1)
    curve.set_ylim(0, 1.02)
    curve.set_ylabel("accuracy")
    curve.set_title(f"{target}: reliability of the predicted label's probability", fontsize=10)
    curve.legend(loc="upper left", fontsize=8)
    histogram.set_xlabel("probability of the predicted label")
    histogram.set_ylabel("tokens")
    return _save(figure, path)
