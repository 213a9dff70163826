"""`annotate --code` with worker processes that are not forked: under spawn and
forkserver (macOS's and, from Python 3.14, Linux's default) each worker is a fresh
interpreter that unpickles the pipeline, whose components come from the --code file."""

import subprocess
import sys

import pytest
from annotate_helpers import annotate_argv, finished_output, pipeline_with, shard_bytes

# Sets the start method, then runs the command line as `python -m spacy_torch_tagger` would.
RUN_WITH_START_METHOD = (
    "import multiprocessing, sys\n"
    "multiprocessing.set_start_method(sys.argv[1])\n"
    "from spacy_torch_tagger.__main__ import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_code_components_reach_workers_started_by(
    start_method, pipeline_dir, annotate_code_file, jsonl_input, tmp_path
):
    pipeline = pipeline_with(pipeline_dir, tmp_path / "with_code", {"annotate_test_pause": {"seconds": 0.0}})
    output = tmp_path / "out"
    options = ["--code", str(annotate_code_file), "--n-process", "2", "--batch-size", "16"]
    argv = annotate_argv(pipeline, jsonl_input, output, *options)
    run = subprocess.run(
        [sys.executable, "-c", RUN_WITH_START_METHOD, start_method, *argv],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-6000:]
    assert "annotate_code" not in run.stderr  # no worker failed to import it
    reference = finished_output(pipeline_dir, jsonl_input, tmp_path / "reference")
    assert shard_bytes(output) == shard_bytes(reference)
