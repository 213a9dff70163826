"""`python -m spacy_torch_tagger annotate` stopped for real, as a subprocess: Ctrl-C
(SIGINT to its process group) on the local engine with 1 and 2 processes, and SIGKILL
at random moments again and again; each time the same command resumes into the shards
an uninterrupted run writes. (Ctrl-C on Ray: test_annotate_ray.py.)"""

import os
import random
import signal
import time
from pathlib import Path

import pytest
from annotate_helpers import (
    annotate,
    annotate_argv,
    assert_interrupted_cleanly,
    assert_records_match_nlp,
    expected_rows,
    finished_output,
    interrupt_after_the_first_shard,
    manifest,
    pipeline_with,
    shard_bytes,
    start_annotate,
    wait_for,
    write_jsonl,
)

from spacy_torch_tagger.__main__ import main

KILLS = 8
KILL_SEED = 20261130


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("annotate_interrupt")


@pytest.fixture(scope="module")
def slow_pipeline(pipeline_dir, annotate_code_file, folder) -> Path:
    """The pipeline with a 20 ms pause per document: a run of the 137 documents lasts
    about 3 s, so a Ctrl-C after its first shard finds it tagging."""
    return pipeline_with(pipeline_dir, folder / "slow", {"annotate_test_pause": {"seconds": 0.02}})


@pytest.mark.timeout(240)
@pytest.mark.parametrize("n_process", ["1", "2"])
def test_ctrl_c_stops_cleanly_and_the_rerun_completes(
    n_process, slow_pipeline, pipeline_dir, annotate_code_file, jsonl_input, texts, folder, tmp_path
):
    output = tmp_path / "out"
    options = ["--code", str(annotate_code_file), "--n-process", n_process, "--batch-size", "8"]
    argv = annotate_argv(slow_pipeline, jsonl_input, output, *options)
    status, err = interrupt_after_the_first_shard(argv, output)
    assert_interrupted_cleanly(status, err, output, n_shards=4)
    assert main(argv) == 0  # the same command, rerun
    uninterrupted = finished_output(pipeline_dir, jsonl_input, tmp_path / "uninterrupted")
    assert shard_bytes(output) == shard_bytes(uninterrupted)
    assert_records_match_nlp(output, texts, expected_rows(pipeline_dir, texts))
    assert "earlier run" in [shard["written"] for shard in manifest(output)["shards"]]


@pytest.mark.timeout(300)
def test_runs_killed_at_random_moments_resume_into_the_shards_of_an_uninterrupted_run(
    pipeline_dir, texts, tmp_path
):
    """Kill the command (SIGKILL) KILLS times at random moments while it tags, rerunning
    it after each kill, then let the rerun finish: every shard is byte for byte the shard of a
    run never killed. A shard written in place instead of renamed when whole would be
    kept half-written by the next run and fail the comparison."""
    lines = [texts[i % len(texts)] for i in range(3000)]
    input = write_jsonl(tmp_path / "lines.jsonl", lines)
    options = ["--shard-size", "50", "--batch-size", "16"]
    reference = tmp_path / "reference"
    assert annotate(pipeline_dir, input, reference, *options) == 0
    output = tmp_path / "out"
    argv = annotate_argv(pipeline_dir, input, output, *options)
    # Kill within the first 1/(2 KILLS) of a whole run's time after tagging starts: the
    # killed runs together tag at most half the input, so every kill finds work under way.
    longest = manifest(reference)["tagged_this_run"]["seconds"] / (2 * KILLS)
    rng = random.Random(KILL_SEED)
    for _ in range(KILLS):
        started = time.time_ns()
        process = start_annotate(argv)
        wait_for(lambda: tagging(output, started), process)  # noqa: B023
        time.sleep(rng.uniform(0.0, longest))
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL and not (output / "_SUCCESS").exists()
    assert main(argv) == 0
    assert shard_bytes(output) == shard_bytes(reference)
    assert len(shard_bytes(output)) == 60
    assert not [path.name for path in output.iterdir() if path.name.endswith(".tmp")]


def tagging(output: Path, since_ns: int) -> bool:
    """Whether a shard or a shard's temporary file was written since `since_ns`."""
    for path in [*output.glob(".part-*.tmp"), *output.glob("part-*")]:
        try:
            if path.stat().st_mtime_ns >= since_ns:
                return True
        except FileNotFoundError:  # renamed or removed meanwhile
            continue
    return False
