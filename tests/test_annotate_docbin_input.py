"""annotate reads `.spacy` DocBins as `spacy apply` does: each Doc is a document,
tagged on its own tokens (not keeping its own tags), its other annotations kept;
shards read back alone give the Docs of a whole read; a changed or unreadable
DocBin, or an id a JSON record cannot hold, is refused before tagging."""

import zlib
from pathlib import Path
from typing import Any, Dict, List

import numpy
import pytest
import spacy
import srsly
from annotate_helpers import (
    OTHER_EXTENSION,
    STALE_PROBS,
    annotate,
    docbin_docs,
    manifest,
    read_docs,
    read_records,
    shard_bytes,
    token_rows,
    write_docbin,
    write_jsonl,
)
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from spacy_torch_tagger.annotate.docbin_input import docs_to_tag
from spacy_torch_tagger.annotate.input_errors import BadInputError, InputChangedError
from spacy_torch_tagger.annotate.reading import read_shard
from spacy_torch_tagger.annotate.scan import scan_input


def test_a_docbin_is_tagged_on_its_own_tokens_not_its_own_tags_with_its_ids(pipeline_dir, tmp_path):
    docs = docbin_docs()
    source = write_docbin(tmp_path / "in.spacy", docs)
    assert annotate(pipeline_dir, source, tmp_path / "out", "--shard-size", "4") == 0
    records = read_records(tmp_path / "out")
    nlp = spacy.load(pipeline_dir)
    words = [[token["text"] for token in record["tokens"]] for record in records]
    assert words == [[token.text for token in doc] for doc in docs]
    assert [record["line"] for record in records] == list(range(1, len(docs) + 1))
    assert [record.get("id") for record in records] == [doc.user_data.get("id") for doc in docs]
    for record, doc in zip(records, docs, strict=True):
        alone = nlp(Doc(nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc]))
        assert [(t["text"], t["tag"], t["pos"], t["morph"]) for t in record["tokens"]] == [
            row[:4] for row in token_rows(alone)
        ]
    assert not any("GOLD" in (t["tag"], t["morph"]) or "probs" in t for r in records for t in r["tokens"])
    assert manifest(tmp_path / "out")["documents"] == len(docs)


def test_two_processes_tag_a_docbin_as_one(pipeline_dir, tmp_path):
    source = write_docbin(tmp_path / "in.spacy", docbin_docs())
    assert annotate(pipeline_dir, source, tmp_path / "one", "--shard-size", "4") == 0
    assert annotate(pipeline_dir, source, tmp_path / "two", "--shard-size", "4", "--n-process", "2") == 0
    assert shard_bytes(tmp_path / "two") == shard_bytes(tmp_path / "one")


def test_docbin_shards_keep_the_input_docs_other_annotations(pipeline_dir, tmp_path):
    docs = docbin_docs(1)
    source = write_docbin(tmp_path / "in.spacy", docs)
    assert annotate(pipeline_dir, source, tmp_path / "out", "--format", "docbin") == 0
    tagged = read_docs(tmp_path / "out", spacy.load(pipeline_dir))
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in tagged] == [
        [(e.start, e.end, e.label_) for e in doc.ents] for doc in docs
    ]
    assert all(token.tag_ and token.tag_ != "GOLD" for doc in tagged for token in doc)
    assert not any(token.lemma_ == "gold" for doc in tagged for token in doc)
    assert [doc.user_data["line"] for doc in tagged] == [1, 2, 3]
    user_data: List[Dict[Any, Any]] = [doc.user_data for doc in tagged]
    assert all(STALE_PROBS not in values and values[OTHER_EXTENSION] for values in user_data)


def test_an_output_directory_of_docbin_shards_is_an_input(pipeline_dir, tmp_path):
    docs = docbin_docs(1)
    write_docbin(tmp_path / "in.spacy", docs)
    assert annotate(pipeline_dir, tmp_path / "in.spacy", tmp_path / "out", "--format", "docbin") == 0
    assert annotate(pipeline_dir, tmp_path / "out", tmp_path / "again") == 0
    records = read_records(tmp_path / "again")
    assert [(r["file"], r["line"], r.get("id")) for r in records] == [
        ("part-00000.spacy", n + 1, doc.user_data.get("id")) for n, doc in enumerate(docs)
    ]
    assert manifest(tmp_path / "again")["inputs"][0]["file"] == "part-00000.spacy"


def test_a_shard_decodes_its_docs_alone_without_their_tags():
    docs = docbin_docs(3)
    docbin = DocBin(store_user_data=True, docs=docs)
    for start, stop in ((0, 9), (2, 5), (8, 9), (4, 4)):
        part = list(docs_to_tag(docbin, start, stop, Path("in.spacy"), Vocab()))
        assert [doc.text for doc in part] == [doc.text for doc in docs[start:stop]]
        assert [[e.label_ for e in doc.ents] for doc in part] == [
            [e.label_ for e in d.ents] for d in docs[start:stop]
        ]
        assert [doc.user_data.get("id") for doc in part] == [d.user_data.get("id") for d in docs[start:stop]]
        assert not any(t.tag_ or t.pos_ or t.has_morph() or t.lemma_ for doc in part for t in doc)


@pytest.mark.parametrize(
    "identifier, written, refused",
    [
        (numpy.int64(7), 7, None),
        (b"raw", None, "its id b'raw' (bytes) cannot be written to a JSON record"),
        (float("nan"), None, "its id NaN or infinity (float) cannot be written"),
    ],
)
def test_an_id_json_cannot_hold_is_refused_before_tagging(
    pipeline_dir, tmp_path, capsys, identifier, written, refused
):
    docs = docbin_docs(1)
    docs[2].user_data["id"] = identifier  # the last shard: a refusal after tagging began leaves shards
    source = write_docbin(tmp_path / "in.spacy", docs)
    status = annotate(pipeline_dir, source, tmp_path / "out", "--shard-size", "1", "--batch-size", "1")
    printed = " ".join(capsys.readouterr().out.split())
    if refused:
        assert status == 1 and refused in printed and f"{source}, Doc 3" in printed
        assert not list((tmp_path / "out").glob("part-*"))
    else:
        assert status == 0
        assert [record.get("id") for record in read_records(tmp_path / "out")] == ["d0-0", "d0-1", written]


@pytest.mark.parametrize("shard_size", [1, 2, 5, 100])
def test_docbin_shards_read_back_alone_give_the_docs_of_a_whole_read(shard_size, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    docs = docbin_docs(2)
    write_docbin(folder / "a.spacy", docs)
    write_jsonl(folder / "b.jsonl", ["One.", "Two."])
    write_docbin(folder / "c.spacy", [])
    write_docbin(folder / "d.spacy", docs[:1])
    scan = scan_input(folder, shard_size)
    read_back = [document for source in scan.shards for document in read_shard(folder, source)]
    assert [(d.file, d.line) for d in read_back] == [("a.spacy", n) for n in range(1, 7)] + [
        ("b.jsonl", 1),
        ("b.jsonl", 2),
        ("d.spacy", 1),
    ]
    assert [d.position for d in read_back] == list(range(9))
    assert [d.text for d in read_back] == [d.text for d in docs] + ["One.", "Two.", docs[0].text]
    words = [[t.text for t in d.doc] for d in read_back if d.doc is not None]
    assert words == [[t.text for t in d] for d in docs + docs[:1]]
    assert [d.doc_like for d in read_back if d.file == "b.jsonl"] == ["One.", "Two."]
    assert scan.n_lines == 9 and len(scan.shards) == -(-9 // shard_size)


def test_a_docbin_changed_since_the_scan_is_refused(tmp_path):
    path = write_docbin(tmp_path / "in.spacy", docbin_docs(2))
    scan = scan_input(path, 3)
    write_docbin(path, docbin_docs(2)[::-1])
    with pytest.raises(InputChangedError, match="are not those read when the run started"):
        list(read_shard(path, scan.shards[0]))


def test_a_doc_that_cannot_be_built_is_named(tmp_path):
    path = write_docbin(tmp_path / "in.spacy", docbin_docs(1))
    message = srsly.msgpack_loads(zlib.decompress(path.read_bytes()))
    message["strings"].remove("York-based")  # the first Doc's token can no longer be looked up
    path.write_bytes(zlib.compress(srsly.msgpack_dumps(message)))
    scan = scan_input(path, 10)
    with pytest.raises(BadInputError, match=r"in.spacy, Doc 1 cannot be read from the DocBin \(KeyError"):
        list(read_shard(path, scan.shards[0]))


def test_a_spacy_file_that_is_no_docbin_is_refused_before_tagging(pipeline_dir, tmp_path, capsys):
    path = tmp_path / "notes.spacy"
    path.write_text("The dog ate.\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="not a readable .spacy DocBin"):
        scan_input(path, 10)
    for options in ([], ["--on-bad-line", "skip"]):
        assert annotate(pipeline_dir, path, tmp_path / "out", *options) == 1
        assert "rename a file of text lines" in " ".join(capsys.readouterr().out.split())
    assert not list((tmp_path / "out").glob("part-*"))
