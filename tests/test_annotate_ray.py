"""`annotate --engine ray` on a local two-CPU Ray cluster: records equal to `nlp(text)`
with malformed lines skipped in place, the caller's DataContext untouched, a killed
worker's shard retried (the kill injected through --code) while the progress bar
moves, and Ctrl-C on a run that joined the cluster, then resumed."""

import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
import spacy
from annotate_helpers import (
    BAD_LINE_SHARD_SIZE,
    annotate,
    annotate_argv,
    assert_bad_lines_skipped_in_place,
    assert_interrupted_cleanly,
    assert_records_match_nlp,
    docbin_docs,
    finished_output,
    interrupt_after_the_first_shard,
    manifest,
    pipeline_with,
    read_docs,
    shard_bytes,
    token_rows,
    write_bad_lines_input,
    write_docbin,
)

from spacy_torch_tagger.__main__ import main

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install spacy-torch-tagger[ray])")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install spacy-torch-tagger[ray])")

RAY = ["--engine", "ray", "--n-process", "2"]


@pytest.fixture(scope="module")
def ray_cluster():
    """A local two-CPU Ray cluster for the module's tests, which the command joins."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("annotate_ray")


def data_context_values(context: Any) -> Dict[str, Any]:
    """The DataContext's settings, nested dataclasses included."""
    return {name: repr(value) for name, value in vars(context).items()}


@pytest.mark.timeout(240)
def test_ray_records_equal_nlp_with_bad_lines_skipped_and_the_data_context_is_kept(
    ray_cluster, pipeline_dir, folder, texts, expected, tmp_path
):
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = True
    context.execution_options.preserve_order = True
    before = data_context_values(context)
    level = logging.getLogger("ray.data").level

    input = write_bad_lines_input(folder / "bad_lines", texts)
    options = ["--on-bad-line", "skip", "--shard-size", str(BAD_LINE_SHARD_SIZE), "--batch-size", "4"]
    assert annotate(pipeline_dir, input, tmp_path / "ray", *RAY, *options) == 0
    assert_bad_lines_skipped_in_place(tmp_path / "ray", texts, expected)
    assert annotate(pipeline_dir, input, tmp_path / "local", *options) == 0
    assert shard_bytes(tmp_path / "ray") == shard_bytes(tmp_path / "local")

    assert ray.data.DataContext.get_current() is context
    assert data_context_values(context) == before
    assert logging.getLogger("ray.data").level == level


@pytest.mark.timeout(240)
def test_ray_tags_a_docbin_as_one_local_process(ray_cluster, pipeline_dir, tmp_path):
    source = write_docbin(tmp_path / "in.spacy", docbin_docs())
    assert annotate(pipeline_dir, source, tmp_path / "local", "--shard-size", "4") == 0
    assert annotate(pipeline_dir, source, tmp_path / "ray", *RAY, "--shard-size", "4") == 0
    assert shard_bytes(tmp_path / "ray") == shard_bytes(tmp_path / "local")
    assert len(shard_bytes(tmp_path / "ray")) == 3


@pytest.mark.timeout(240)
def test_ray_retries_the_shard_of_a_killed_worker_and_shows_progress(
    ray_cluster, pipeline_dir, annotate_code_file, jsonl_input, texts, expected, tmp_path, capsys
):
    """A component from --code kills its Ray worker (SIGKILL) on its first document;
    another one pauses 20 ms per document so that the progress bar has time to move."""
    marker = tmp_path / "killed"
    components: Dict[str, Dict[str, Any]] = {
        "annotate_test_kill_once": {"marker": str(marker)},
        "annotate_test_pause": {"seconds": 0.02},
    }
    killing = pipeline_with(pipeline_dir, tmp_path / "killing", components)
    output = tmp_path / "ray"
    argv = annotate_argv(
        killing, jsonl_input, output, *RAY, "--format", "docbin", "--code", str(annotate_code_file)
    )
    argv.remove("--no-progress")
    assert main(argv) == 0
    assert marker.exists()  # a worker did die mid-run
    nlp = spacy.load(pipeline_dir)
    docs = read_docs(output, nlp)
    assert [doc.text for doc in docs] == texts
    assert [doc.user_data["line"] for doc in docs] == list(range(1, len(texts) + 1))
    for doc in docs:
        assert token_rows(doc) == expected[doc.text]
    assert annotate(pipeline_dir, jsonl_input, tmp_path / "local", "--format", "docbin") == 0
    assert shard_bytes(output) == shard_bytes(tmp_path / "local")

    err = capsys.readouterr().err
    shown = {int(done) for done in re.findall(r"annotate:\s+\d+%\|[^|]*\|\s*(\d+)/137", err)}
    assert shown - {0, 137}, err  # counts between none and all were shown


@pytest.mark.timeout(240)
def test_ctrl_c_on_ray_stops_cleanly_and_the_rerun_completes(
    ray_cluster, pipeline_dir, annotate_code_file, jsonl_input, texts, expected, tmp_path
):
    slow = pipeline_with(pipeline_dir, tmp_path / "slow", {"annotate_test_pause": {"seconds": 0.03}})
    address = ray.get_runtime_context().gcs_address
    output = tmp_path / "out"
    options = [*RAY, "--ray-address", address, "--code", str(annotate_code_file), "--batch-size", "8"]
    argv = annotate_argv(slow, jsonl_input, output, *options)
    status, err = interrupt_after_the_first_shard(argv, output)
    assert_interrupted_cleanly(status, err, output, n_shards=4)
    assert not re.search(r"\bINFO\b", err), err  # Ray's and Ray Data's INFO logs are off
    assert main(argv) == 0  # the same command, rerun (here, on the cluster this process joined)
    assert_records_match_nlp(output, texts, expected)
    uninterrupted = finished_output(pipeline_dir, jsonl_input, tmp_path / "uninterrupted")
    assert shard_bytes(output) == shard_bytes(uninterrupted)
    assert "earlier run" in [shard["written"] for shard in manifest(output)["shards"]]


@pytest.mark.timeout(240)
def test_a_pipeline_that_does_not_load_on_the_workers_fails_with_one_message(
    ray_cluster, pipeline_dir, annotate_code_file, jsonl_input, tmp_path, capsys
):
    """Its custom component is unknown without --code: the workers cannot load it."""
    custom = pipeline_with(pipeline_dir, tmp_path / "custom", {"annotate_test_pause": {}})
    assert annotate(custom, jsonl_input, tmp_path / "out", "--engine", "ray", "--n-process", "1") == 1
    printed = capsys.readouterr()
    message = " ".join(printed.out.split())  # wasabi wraps its messages
    assert message.count("✘") == 1
    assert f"✘ the pipeline {custom} did not load on a Ray worker" in message
    assert "annotate_test_pause" in message and "pass --code FILE" in message
    assert "Traceback" not in printed.err + printed.out
    assert not list((tmp_path / "out").glob("part-*"))


@pytest.mark.timeout(240)
def test_a_local_ray_started_for_the_run_logs_nothing_of_its_own(
    pipeline_dir, jsonl_input, texts, expected, tmp_path
):
    """In a fresh process (no Ray yet), the command starts a local Ray and says only its own
    lines: none of Ray's start-up INFO or WARNING logs."""
    argv = annotate_argv(pipeline_dir, jsonl_input, tmp_path / "out", *RAY)
    result = subprocess.run(
        [sys.executable, "-m", "spacy_torch_tagger", *argv], capture_output=True, text=True, timeout=220
    )
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr  # Ray logs its start-up on stdout
    assert not re.search(r"\b(INFO|WARNING)\b", said), said
    assert_records_match_nlp(tmp_path / "out", texts, expected)
