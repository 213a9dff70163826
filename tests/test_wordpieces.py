"""Word pieces: never across a token, at least one per token, windows that cover
every piece exactly once."""

import json
from typing import List

import numpy
import pytest

from spacy_torch_tagger.layers.checkpoint import Checkpoint
from spacy_torch_tagger.layers.wordpieces import window_starts, wordpiece_arrays

from conftest import pieces_of_each_token


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint) -> Checkpoint:
    return Checkpoint.from_dir(tiny_checkpoint)


def _pieces(checkpoint: Checkpoint, sequences: List[List[str]], window_length: int = 64, stride: int = 31):
    return wordpiece_arrays(sequences, checkpoint.piece_tokenizer(), window_length, stride)


def test_each_token_gets_its_own_pieces_and_at_least_one(checkpoint):
    tokens = ["Peter", "unbelievably", ",", "  ", "😀", "don't", "Zürich", "."]
    arrays = _pieces(checkpoint, [tokens])
    owned = pieces_of_each_token(arrays, len(tokens))
    tokenizer, unk = checkpoint.tokenizer(), checkpoint.special_ids()["unk"]
    for token, pieces in zip(tokens, owned, strict=True):
        alone = tokenizer.encode(token, add_special_tokens=False).ids
        assert pieces == (alone or [unk]), token
    assert len(owned[1]) > 3, "a long word splits into many pieces"
    assert owned[3] == [unk], "a whitespace token gets the unknown piece"
    flat = arrays.ids.reshape(-1)
    assert [int(flat[i]) for i in arrays.first_piece] == [pieces[0] for pieces in owned]


def test_special_tokens_frame_every_window_and_padding_is_masked(checkpoint):
    special = checkpoint.special_ids()
    arrays = _pieces(checkpoint, [["the", "dog"], ["she", "smiled", "at", "london"]])
    assert arrays.ids.shape == arrays.mask.shape == arrays.token_of_piece.shape == (2, 6)
    assert (arrays.ids[:, 0] == special["cls"]).all()
    assert arrays.ids[0].tolist()[3:] == [special["sep"], special["pad"], special["pad"]]
    assert arrays.mask[0].tolist() == [1, 1, 1, 1, 0, 0]
    assert arrays.token_of_piece[0].tolist() == [-1, 0, 1, -1, -1, -1]
    assert arrays.token_of_piece[1].tolist() == [-1, 2, 3, 4, 5, -1], "tokens are numbered across sequences"


@pytest.mark.parametrize("window_length, stride", [(8, 3), (8, 6), (10, 1), (64, 31)])
def test_long_sequences_are_read_in_overlapping_windows_covering_each_piece_once(
    checkpoint, window_length, stride
):
    tokens = ["peter", "and", "sue", "unbelievably", "read", "a", "book", ",", "she", "smiled"] * 7
    arrays = _pieces(checkpoint, [tokens, ["the", "dog"]], window_length, stride)
    one_window = _pieces(checkpoint, [tokens], 1000, 10)
    assert pieces_of_each_token(arrays, len(tokens) + 2)[: len(tokens)] == pieces_of_each_token(
        one_window, len(tokens)
    )
    assert arrays.ids.shape[1] == window_length
    n_pieces = int((one_window.token_of_piece >= 0).sum())
    assert int((arrays.token_of_piece >= 0).sum()) == n_pieces + 2
    assert arrays.ids.shape[0] == len(window_starts(n_pieces, window_length - 2, stride)) + 1


def test_no_sequences_give_no_windows(checkpoint):
    arrays = _pieces(checkpoint, [])
    assert arrays.ids.shape[0] == 0 and arrays.first_piece.shape == (0,)


def test_window_starts_end_at_the_last_piece():
    assert window_starts(5, 10, 4) == [0]
    assert window_starts(13, 6, 3) == [0, 3, 6, 7]
    assert window_starts(12, 6, 6) == [0, 6]


@pytest.mark.parametrize("window_length, stride", [(2, 1), (8, 0), (8, 7)])
def test_impossible_windows_are_refused(checkpoint, window_length, stride):
    with pytest.raises(ValueError, match="window_length >= 3 and 1 <= stride"):
        _pieces(checkpoint, [["the"]], window_length, stride)


def test_ids_are_int64_for_torch(checkpoint):
    arrays = _pieces(checkpoint, [["the", "dog"]])
    assert all(array.dtype == numpy.int64 for array in arrays)


@pytest.mark.parametrize("window_length, stride", [(8, 3), (10, 2), (9, 6), (12, 1)])
def test_each_piece_counts_in_the_window_where_it_sits_farthest_from_an_edge(
    checkpoint, window_length, stride
):
    tokens = ["peter", "and", "sue", "unbelievably", "read", "a", "book", ",", "she", "smiled"] * 4
    arrays = _pieces(checkpoint, [tokens], window_length, stride)
    width = window_length - 2
    n_pieces = int((arrays.token_of_piece >= 0).sum())
    starts = window_starts(n_pieces, width, stride)
    assert len(starts) == arrays.ids.shape[0] > 2
    owner_of_piece = {}
    for k, start in enumerate(starts):
        for column in range(1, 1 + min(width, n_pieces - start)):
            if arrays.token_of_piece[k, column] >= 0:
                assert start + column - 1 not in owner_of_piece, "each piece counts once"
                owner_of_piece[start + column - 1] = k
    assert sorted(owner_of_piece) == list(range(n_pieces))
    for piece, k in owner_of_piece.items():
        margins = [min(piece - s, s + width - 1 - piece) for s in starts if s <= piece < s + width]
        assert min(piece - starts[k], starts[k] + width - 1 - piece) == max(margins), piece
    # A token's first piece is an owned position holding that token's first piece id.
    flat_owner = arrays.token_of_piece.reshape(-1)
    assert [int(flat_owner[i]) for i in arrays.first_piece] == list(range(len(tokens)))
    owned = pieces_of_each_token(arrays, len(tokens))
    assert [int(arrays.ids.reshape(-1)[i]) for i in arrays.first_piece] == [p[0] for p in owned]


def _arrays_as_in_0_2_0(checkpoint: Checkpoint, sequences: List[List[str]], window_length: int, stride: int):
    """The arrays as spacy-torch-tagger 0.2.0 built them, written out plainly: each
    token's pieces from the tokenizer (the unknown piece for none), windows of
    [CLS] pieces [SEP] `stride` pieces apart, each piece owned by the window where
    it sits farthest from an edge (the later window on a tie), padded with [PAD]."""
    tokenizer, special = checkpoint.tokenizer(), checkpoint.special_ids()
    width = window_length - 2
    windows, owners, first_piece = [], [], []
    offset = 0
    for tokens in sequences:
        encoding = tokenizer.encode(tokens, is_pretokenized=True, add_special_tokens=False)
        ids, token_of = [], []
        for token in range(len(tokens)):
            pieces = [p for p, w in zip(encoding.ids, encoding.word_ids, strict=True) if w == token]
            ids += pieces or [special["unk"]]
            token_of += [token] * len(pieces or [special["unk"]])
        n = len(ids)
        starts = [0] if n <= width else [*range(0, n - width, stride), n - width]
        owner_window = []
        for p in range(n):
            holding = [k for k, s in enumerate(starts) if s <= p < s + width]
            owner_window.append(
                max(holding, key=lambda k: (min(p - starts[k], starts[k] + width - 1 - p), k))
            )
        for k, start in enumerate(starts):
            end = min(start + width, n)
            windows.append([special["cls"], *ids[start:end], special["sep"]])
            owners.append(
                [-1, *(offset + token_of[p] if owner_window[p] == k else -1 for p in range(start, end)), -1]
            )
        for token in range(len(tokens)):
            p = token_of.index(token)
            first_piece.append(
                (len(windows) - len(starts) + owner_window[p], 1 + p - starts[owner_window[p]])
            )
        offset += len(tokens)
    length = max(map(len, windows))
    ids_array = numpy.full((len(windows), length), special["pad"])
    mask = numpy.zeros((len(windows), length), dtype="int64")
    token_of_piece = numpy.full((len(windows), length), -1)
    for i, (window, row) in enumerate(zip(windows, owners, strict=True)):
        ids_array[i, : len(window)], mask[i, : len(window)], token_of_piece[i, : len(row)] = window, 1, row
    return ids_array, mask, token_of_piece, numpy.array([w * length + c for w, c in first_piece])


BERT_SEQUENCES = [
    ["Peter", "unbelievably", ",", "  ", "😀", "don't", "Zürich", ".", "\n"],
    ["peter", "and", "sue", "unbelievably", "read", "a", "book", ",", "she", "smiled"] * 6,
    ["the", "dog"],
]


@pytest.mark.parametrize("window_length, stride", [(64, 31), (16, 7), (10, 2), (9, 6), (12, 1)])
def test_bert_pieces_and_windows_are_those_of_0_2_0(checkpoint, window_length, stride):
    """A BERT WordPiece checkpoint gets the very arrays it got before the template and
    space markers came from the tokenizer, from a checkpoint read now and from the
    special_tokens.json a 0.2.0 pipeline saved (cls, sep, pad, unk only)."""
    expected = _arrays_as_in_0_2_0(checkpoint, BERT_SEQUENCES, window_length, stride)
    legacy = Checkpoint(
        {**checkpoint.files, "special_tokens.json": json.dumps(checkpoint.special_ids()).encode()}
    )
    saved = json.loads(checkpoint.files["special_tokens.json"])
    assert (saved["before"], saved["after"], saved["mark_spaces"]) == ([saved["cls"]], [saved["sep"]], False)
    for source in (checkpoint, legacy):
        found = _pieces(source, BERT_SEQUENCES, window_length, stride)
        assert len(found) == len(expected)
        for array, reference in zip(found, expected, strict=True):
            assert array.dtype == numpy.int64 and numpy.array_equal(array, reference)


def test_bert_pieces_ignore_the_whitespace_before_a_token(checkpoint):
    """From docs as the component sees them (spaces, newlines, glued punctuation,
    sentences): the arrays of the words alone."""
    import spacy
    import torch
    from spacy.tokens import Doc

    from spacy_torch_tagger.layers.known_words import KnownWords
    from spacy_torch_tagger.layers.network_input import docs_to_batch, sequences
    from spacy_torch_tagger.network.feature_spec import FeatureSpec

    nlp = spacy.blank("en")
    docs = [nlp.make_doc(text) for text in ("The dog ate.\n\nIt  slept ,  Zürich!", "a\tb  c", "x")]
    docs.append(Doc(nlp.vocab, words=["She", "smiled", ".", "He", "read"], sent_starts=[1, 0, 0, 1, 0]))
    features = FeatureSpec()
    batch = docs_to_batch(
        docs, features, KnownWords.from_docs([], features), torch.device("cpu"), (checkpoint, 16, 7)
    )
    words = [[token.text for token in span] for span in sequences(docs)]
    assert len(words) == 5, "the last doc is read as two sentences"
    expected = _arrays_as_in_0_2_0(checkpoint, words, 16, 7)
    assert batch.wordpieces is not None
    for array, reference in zip(batch.wordpieces, expected, strict=True):
        assert numpy.array_equal(array.numpy(), reference)
