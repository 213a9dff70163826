"""Markdown formatting: tables, numbers, labels and marked contexts."""

from typing import Optional, Sequence, Tuple


def escape(text: str) -> str:
    """Text safe inside a table cell or a line of prose."""
    for char in "\\`*_[]|<>":
        text = text.replace(char, "\\" + char)
    return text


def label(text: str) -> str:
    """A label as inline code (pipes escaped, so it can sit in a table)."""
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def percent(value: Optional[float]) -> str:
    """A fraction as a percentage with two decimals; a dash where there is none."""
    return "—" if value is None else f"{100 * value:.2f}"


def difference(new: Optional[float], old: Optional[float]) -> str:
    """new - old in percentage points with a sign; a dash where either is missing."""
    if new is None or old is None:
        return "—"
    return f"{100 * (new - old):+.2f}"


def count_difference(new: int, old: int) -> str:
    return f"{new - old:+d}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] = ()) -> str:
    """A markdown table; `right[i]` right-aligns column i (numbers)."""
    align = ["---:" if i < len(right) and right[i] else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def marked(context: Tuple[str, str, str]) -> str:
    """A (before, token, after) context (see tokens.marked_context) with the token in bold."""
    before, token, after = (escape(part) for part in context)
    return f"{before}**{token}**{after}"


def image(alt: str, filename: str) -> str:
    return f"![{escape(alt)}]({filename})"
