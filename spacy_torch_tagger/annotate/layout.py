"""`_layout.json`, the resume key: what decides the shards' contents, by content.

It holds the SHA-256 of every input file, the pipeline's fingerprint (fingerprint.py),
the --code file's SHA-256, and the settings that change the records (fields, shard
size, format, and the config overrides where there are any, so that directories
written before overrides existed still resume). A rerun into an output directory
whose key differs is refused with what changed, so shards of another input or
pipeline never mix with this run's. Paths are not in the key: the same input or
pipeline at another path resumes.
"""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from .scan import InputFile

LAYOUT = "_layout.json"
LAYOUT_VERSION = 2
OPTION_NAMES = {
    "text_field": "--text-key",
    "id_field": "--id-key",
    "shard_size": "--shard-size",
    "format": "--format",
}


class LayoutMismatchError(ValueError):
    """The output directory was written from another input, pipeline or settings."""


def layout_key(
    files: List[InputFile],
    pipeline_sha256: str,
    code_sha256: Optional[str],
    text_field: str,
    id_field: Optional[str],
    shard_size: int,
    format: str,
    config_overrides: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """The content of `_layout.json` for a run."""
    key: Dict[str, Any] = {
        "version": LAYOUT_VERSION,
        "inputs": [{"file": f.file, "bytes": f.bytes, "sha256": f.sha256} for f in files],
        "pipeline_sha256": pipeline_sha256,
        "code_sha256": code_sha256,
        "text_field": text_field,
        "id_field": id_field,
        "shard_size": shard_size,
        "format": format,
    }
    if config_overrides:
        key["config_overrides"] = config_overrides
    return key


def read_layout(output: Path) -> Optional[Dict[str, Any]]:
    """The key of an earlier run into `output`, or None."""
    path = output / LAYOUT
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def check_layout(output: Path, previous: Dict[str, Any], current: Dict[str, Any]) -> None:
    """Raise LayoutMismatchError naming each difference unless the keys are equal."""
    if previous == current:
        return
    changes = describe_changes(previous, current)
    raise LayoutMismatchError(
        f"{output} holds shards of another run ({'; '.join(changes)}), which would mix with this "
        f"run's. Write to a new output directory, or delete {output} to start over; to resume it, "
        "rerun with the input, pipeline and settings it was started with"
    )


def describe_changes(previous: Dict[str, Any], current: Dict[str, Any]) -> List[str]:
    """What differs between two keys, in words."""
    if previous.get("version") != current["version"]:
        return ["it was written by another version of this command"]
    changes: List[str] = []
    before = {entry["file"]: entry for entry in previous["inputs"]}
    now = {entry["file"]: entry for entry in current["inputs"]}
    for name in sorted(set(before) | set(now)):
        if name not in now:
            changes.append(f"input file {name} is gone")
        elif name not in before:
            changes.append(f"input file {name} is new")
        elif before[name] != now[name]:
            changes.append(f"input file {name} changed (its SHA-256 differs)")
    if previous["pipeline_sha256"] != current["pipeline_sha256"]:
        changes.append("the pipeline changed (the SHA-256 of its files differs)")
    if previous["code_sha256"] != current["code_sha256"]:
        changes.append("the --code file changed, or was given in one run only")
    for key, option in OPTION_NAMES.items():
        if previous[key] != current[key]:
            changes.append(f"{option} was {previous[key]!r}, now {current[key]!r}")
    overrides = previous.get("config_overrides", {}), current.get("config_overrides", {})
    if overrides[0] != overrides[1]:
        changes.append(f"the config overrides were {overrides[0]}, now {overrides[1]}")
    return changes or ["its _layout.json differs from this run's"]
