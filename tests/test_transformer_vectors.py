# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""What TransformerNetwork.v1 computes, checked against the encoder run by hand:
the window that supplies each piece, the layer mix, the pooling, sentences as
separate sequences, a checkpoint tokenizer's own truncation and padding, and the
encoder's share of the learning rate. Every network here has no features beside
the encoder, so the heads read the pooled token vectors and nothing else."""

import contextlib
import itertools
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import pytest
import spacy
import torch
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import SGD, fix_random_seed

from spacy_torch_tagger.layers.tagger_model import checkpoint_of, network_of

from conftest import corpus_examples

# Short windows so that a sentence of a few dozen pieces is read in several. With
# an even stride and an even number of pieces per window, two windows never hold
# a piece equally far from their edges, except where the last window (which ends
# at the last piece) is involved.
WINDOW = 10
STRIDE = 2
# Tokens of one to eleven pieces in the tiny checkpoint's vocab.
WORDS = ["unbelievably", "the", "dog", "peter", "quizzical", ",", "slept", "xylophone", "at", "me", "zig"]


def _pipeline(
    checkpoint: Path, window: int = WINDOW, stride: int = STRIDE, seed: int = 0, **network: Any
) -> Language:
    """An initialized tag+pos pipeline whose heads have random weights (they start
    at zero, which would hide what reaches them) and read only the encoder."""
    fix_random_seed(seed)
    settings = {"checkpoint": str(checkpoint), "window_length": window, "stride": stride}
    settings.update({"embed_width": 0, "char_width": 0, **network})
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "torch_tagger",
        config={
            "targets": ["tag", "pos"],
            "model": {
                "features": {"vocab_rows": 300, "vocab_min_count": 1},
                "network": {"@architectures": "spacy_torch_tagger.TransformerNetwork.v1", **settings},
            },
        },
    )
    nlp.initialize(lambda: corpus_examples(nlp)[:8])
    with torch.no_grad():
        for head in _network(nlp).heads.values():
            head.weight.normal_()
            head.bias.normal_()
    return nlp


def _network(nlp: Language) -> Any:
    return network_of(nlp.get_pipe("torch_tagger").model)


def _head_inputs(nlp: Language, docs: Sequence[Doc]) -> torch.Tensor:
    """(n_tokens, width): what the tag head received while the pipeline tagged `docs`."""
    seen: List[torch.Tensor] = []
    hook = (
        _network(nlp)
        .heads["tag"]
        .register_forward_hook(lambda module, args, output: seen.append(args[0].detach().clone()))
    )
    try:
        nlp.get_pipe("torch_tagger").model.predict(list(docs))
    finally:
        hook.remove()
    assert len(seen) == 1, "one network call per batch"
    return seen[0]


def _logits(nlp: Language, docs: Sequence[Doc]) -> torch.Tensor:
    """The model's scores of `docs`, all tokens in order."""
    return torch.cat([torch.as_tensor(s) for s in nlp.get_pipe("torch_tagger").model.predict(list(docs))])


@contextlib.contextmanager
def _evaluating(module: torch.nn.Module) -> Iterator[None]:
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train()


def _window_starts(n_pieces: int, width: int, stride: int) -> List[int]:
    """Windows `stride` apart from the first piece, the last one ending at the last piece."""
    if n_pieces <= width:
        return [0]
    return list(range(0, n_pieces - width, stride)) + [n_pieces - width]


def _pieces(nlp: Language, tokens: Sequence[str]) -> List[List[int]]:
    """Each token's piece ids from the checkpoint's tokenizer, the unknown piece for none."""
    checkpoint = checkpoint_of(nlp.get_pipe("torch_tagger").model)
    tokenizer, unk = checkpoint.tokenizer(), checkpoint.special_ids()["unk"]
    return [tokenizer.encode(token, add_special_tokens=False).ids or [unk] for token in tokens]


def _encoder_states(nlp: Language, ids: List[int]) -> torch.Tensor:
    """(len(ids) + 2, hidden): the network's layer mix of one window [CLS] ids [SEP],
    run alone through its encoder (no padding, no other window beside it)."""
    network = _network(nlp)
    special = checkpoint_of(nlp.get_pipe("torch_tagger").model).special_ids()
    window = torch.tensor([[special["cls"], *ids, special["sep"]]])
    with _evaluating(network):
        states = network.encoder(
            input_ids=window, attention_mask=torch.ones_like(window), output_hidden_states=True
        ).hidden_states
        if not network.settings.mix_layers:
            states = states[-1:]
        weights = torch.softmax(network.layer_weights, dim=0)
        mixed = sum(weight * state[0] for weight, state in zip(weights, states, strict=True))
        return network.layer_scale * mixed


def _candidate_vectors(
    nlp: Language, tokens: Sequence[str], pooling: str, window: int = WINDOW, stride: int = STRIDE
) -> List[List[torch.Tensor]]:
    """For each token of one sequence, every vector it may get when each of its pieces
    comes from a window where the piece sits farthest from an edge (several vectors
    only where two windows tie)."""
    width = window - 2
    per_token = _pieces(nlp, tokens)
    ids = [piece for pieces in per_token for piece in pieces]
    # (margin, state) of each window that holds the piece
    options: List[List[Tuple[int, torch.Tensor]]] = [[] for _ in ids]
    for start in _window_starts(len(ids), width, stride):
        end = min(start + width, len(ids))
        states = _encoder_states(nlp, ids[start:end])
        for p in range(start, end):
            options[p].append((min(p - start, start + width - 1 - p), states[1 + p - start]))
    best = []
    for found in options:
        margin = max(m for m, _ in found)
        best.append([state for m, state in found if m == margin])
    candidates = []
    offset = 0
    for pieces in per_token:
        choices = best[offset : offset + len(pieces)]
        offset += len(pieces)
        if pooling == "first":
            candidates.append(choices[0])
        else:
            candidates.append([torch.stack(combo).mean(dim=0) for combo in itertools.product(*choices)])
    return candidates


def _assert_varied(rows: torch.Tensor) -> None:
    """Tokens get different vectors or scores (a degenerate encoder would give them all one)."""
    assert float(rows.std(dim=0).mean()) > 1e-2, "the tokens' rows differ from each other"


def _assert_vectors(found: torch.Tensor, candidates: List[List[torch.Tensor]]) -> None:
    assert found.shape[0] == len(candidates)
    _assert_varied(found)
    for i, (vector, options) in enumerate(zip(found, candidates, strict=True)):
        assert any(torch.allclose(vector, option, atol=2e-5, rtol=1e-4) for option in options), (
            f"token {i}: off by {min(float((vector - option).abs().max()) for option in options):.2e}"
        )


def _states_differ_between_windows(nlp: Language, tokens: Sequence[str]) -> bool:
    """Whether a piece's state depends on the window it is read in (else no test
    of the window choice could fail)."""
    ids = [piece for pieces in _pieces(nlp, tokens) for piece in pieces]
    first, second = _encoder_states(nlp, ids[:8]), _encoder_states(nlp, ids[3:11])
    return not torch.allclose(first[1 + 5], second[1 + 2], atol=1e-3)


@pytest.mark.parametrize("pooling", ["mean", "first"])
def test_each_piece_comes_from_the_window_where_it_sits_farthest_from_an_edge(tiny_checkpoint, pooling):
    nlp = _pipeline(tiny_checkpoint, pooling=pooling)
    tokens = [WORDS[(7 * i) % len(WORDS)] for i in range(24)]
    n_pieces = sum(map(len, _pieces(nlp, tokens)))
    assert len(_window_starts(n_pieces, WINDOW - 2, STRIDE)) >= 5, "read in several overlapping windows"
    assert _states_differ_between_windows(nlp, tokens)
    found = _head_inputs(nlp, [Doc(nlp.vocab, words=tokens)])
    _assert_vectors(found, _candidate_vectors(nlp, tokens, pooling))


def test_a_2000_token_sentence_is_read_whole_in_overlapping_windows(tiny_checkpoint):
    """Every token of a sentence longer than many windows, the last ones included,
    gets the vector of its pieces in their best windows: nothing is cut off."""
    nlp = _pipeline(tiny_checkpoint, window=32, stride=10)
    tokens = (["Peter", "and", "Sue", "read", "a", "quizzical", "book", "in", "London", ","] * 223)[:2000]
    found = _head_inputs(nlp, [Doc(nlp.vocab, words=tokens)])
    _assert_vectors(found, _candidate_vectors(nlp, tokens, "mean", window=32, stride=10))
    doc = nlp(" ".join(tokens))
    assert len(doc) == 2000
    logits = _logits(nlp, [Doc(nlp.vocab, words=tokens)])
    tag_labels = nlp.get_pipe("torch_tagger").label_data["tag"]
    assert [t.tag_ for t in doc] == [tag_labels[i] for i in logits[:, : len(tag_labels)].argmax(dim=1)]


@pytest.mark.parametrize("pooling", ["mean", "first"])
@pytest.mark.parametrize("mix_layers", [True, False])
def test_pooling_and_layer_choices_give_the_vectors_computed_by_hand(tiny_checkpoint, pooling, mix_layers):
    """Short sequences (one window each): a token's vector is the mean of its pieces'
    states, or its first piece's, from the softmax-weighted, scaled mix of all
    hidden states (or the last one alone)."""
    nlp = _pipeline(tiny_checkpoint, window=64, stride=31, pooling=pooling, mix_layers=mix_layers)
    network = _network(nlp)
    assert network.layer_weights.shape == ((3,) if mix_layers else (1,))
    with torch.no_grad():
        network.layer_weights.copy_(torch.tensor([0.3, -1.1, 2.0][: network.layer_weights.shape[0]]))
        network.layer_scale.fill_(1.7)
    sequences = [["unbelievably", "quizzical", "dog"], ["she", "smiled", "at", "xylophone", "."]]
    found = _head_inputs(nlp, [Doc(nlp.vocab, words=words) for words in sequences])
    expected = []
    for tokens in sequences:
        states = _encoder_states(nlp, [piece for pieces in _pieces(nlp, tokens) for piece in pieces])
        column = 1
        for pieces in _pieces(nlp, tokens):
            own = states[column : column + len(pieces)]
            expected.append(own[0] if pooling == "first" else own.mean(dim=0))
            column += len(pieces)
    assert len(_pieces(nlp, ["unbelievably"])[0]) > 3, "a token of many pieces tells mean from first"
    _assert_vectors(found, [[vector] for vector in expected])


ODD_TOKENS = ["zero\u200bwidth", "😀🤖", "  ", "cafe\u0301", "مرحبا", "bell\x07", "\u202eRTL", "x" * 300]


def test_odd_tokens_get_their_pieces_or_the_unknown_piece(tiny_checkpoint):
    """Emoji, combining marks, control and bidi characters, whitespace and a very
    long token: each token's vector is the mean of its own pieces' states, the
    unknown piece where the tokenizer gives none."""
    nlp = _pipeline(tiny_checkpoint, window=64, stride=31)
    unk = checkpoint_of(nlp.get_pipe("torch_tagger").model).special_ids()["unk"]
    assert [unk] in _pieces(nlp, ODD_TOKENS), "some token is read as the unknown piece"
    found = _head_inputs(nlp, [Doc(nlp.vocab, words=ODD_TOKENS)])
    _assert_vectors(found, _candidate_vectors(nlp, ODD_TOKENS, "mean", window=64, stride=31))


def _perturb(module: torch.nn.Module) -> Any:
    """A forward hook that adds a constant to the module's first output."""

    def hook(module: torch.nn.Module, args: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (output[0] + 0.5, *output[1:])
        return output + 0.5

    return module.register_forward_hook(hook)


def test_the_learned_layer_mix_is_what_reaches_the_heads(tiny_checkpoint):
    """With the weights on the first layer's output, the logits follow that layer's
    output and ignore the layer above it."""
    nlp = _pipeline(tiny_checkpoint)
    network = _network(nlp)
    with torch.no_grad():
        network.layer_weights.copy_(torch.tensor([-30.0, 30.0, -30.0]))  # hidden state 1: layer 0's output
    words = ["the", "quizzical", "dog", "slept", "."]
    docs = [Doc(nlp.vocab, words=words)]
    layers = network.encoder.encoder.layer
    unchanged = _logits(nlp, docs)
    handle = _perturb(layers[1])
    try:
        above = _logits(nlp, docs)
    finally:
        handle.remove()
    handle = _perturb(layers[0])
    try:
        selected = _logits(nlp, docs)
    finally:
        handle.remove()
    assert torch.allclose(above, unchanged, atol=1e-5), "the layer the mix gives no weight does not count"
    assert not torch.allclose(selected, unchanged, atol=1e-2), "the layer the mix selects does"
    # The selected state is layer 0's output, as the hand-made mix says.
    ids = [piece for pieces in _pieces(nlp, words) for piece in pieces]
    special = checkpoint_of(nlp.get_pipe("torch_tagger").model).special_ids()
    with _evaluating(network):
        window = torch.tensor([[special["cls"], *ids, special["sep"]]])
        layer_0 = network.encoder(input_ids=window, output_hidden_states=True).hidden_states[1][0]
    assert torch.allclose(_encoder_states(nlp, ids), layer_0, atol=1e-5)


def _sentence_doc(nlp: Language, sentences: List[List[str]]) -> Doc:
    words = [word for sentence in sentences for word in sentence]
    starts: List[Union[bool, int, None]] = [i == 0 for sentence in sentences for i in range(len(sentence))]
    return Doc(nlp.vocab, words=words, sent_starts=starts)


SENTENCES = [
    ["the", "dog", "ate", "the", "apple", "."],
    ["she", "smiled", "at", "me", "and", "the", "cat", "slept", "."],
    ["peter", "and", "sue", "live", "in", "london", "."],
]


def test_each_sentence_is_its_own_sequence(tiny_checkpoint):
    """A doc with sentence boundaries gets the scores and tags of its sentences
    tagged as separate docs (encoder windows and the BiLSTM alike)."""
    nlp = _pipeline(tiny_checkpoint, lstm_width=8)
    doc = _sentence_doc(nlp, SENTENCES)
    separate = [Doc(nlp.vocab, words=words) for words in SENTENCES]
    expected = _logits(nlp, separate)
    _assert_varied(expected)
    assert torch.allclose(_logits(nlp, [doc]), expected, atol=1e-5)
    tagger = nlp.get_pipe("torch_tagger")
    assert [t.tag_ for t in tagger(doc)] == [t.tag_ for d in separate for t in tagger(d)]


def test_a_change_in_one_sentence_leaves_the_others_alone(tiny_checkpoint):
    nlp = _pipeline(tiny_checkpoint, lstm_width=8)
    changed = [SENTENCES[0], ["he", "read", "at", "me", "and", "the", "dog", "smiled", "."], SENTENCES[2]]
    first, second = _logits(nlp, [_sentence_doc(nlp, SENTENCES)]), _logits(nlp, [_sentence_doc(nlp, changed)])
    middle = slice(len(SENTENCES[0]), len(SENTENCES[0]) + len(SENTENCES[1]))
    outside = torch.ones(len(first), dtype=torch.bool)
    outside[middle] = False
    assert torch.allclose(first[outside], second[outside], atol=1e-5)
    assert not torch.allclose(first[middle], second[middle], atol=1e-3)
    # Without the boundaries the same change reaches the other sentences.
    whole = [Doc(nlp.vocab, words=[w for s in sentences for w in s]) for sentences in (SENTENCES, changed)]
    assert not torch.allclose(_logits(nlp, whole[:1])[outside], _logits(nlp, whole[1:])[outside], atol=1e-3)


def _save_tokenizer_with(folder: Path, max_length: int, pad_to: Optional[int]) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    if pad_to is not None:
        tokenizer.enable_padding(length=pad_to, pad_id=0, pad_token="[PAD]")
    tokenizer.save(str(folder / "tokenizer.json"))


@pytest.mark.parametrize("pad_to", [None, 48])
def test_a_tokenizer_that_ships_truncation_and_padding_keeps_every_piece(tiny_checkpoint, tmp_path, pad_to):
    """A tokenizer.json saved with truncation (and padding) on: long sentences keep
    all their pieces, and the pipeline computes what it does on the same checkpoint
    without those settings, also once saved and loaded."""
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "truncating")
    _save_tokenizer_with(folder, max_length=6, pad_to=pad_to)
    plain, truncating = _pipeline(tiny_checkpoint), _pipeline(folder)
    kept = checkpoint_of(truncating.get_pipe("torch_tagger").model).files["tokenizer.json"]
    assert b'"max_length":6' in kept.replace(b" ", b""), "the settings travel with the checkpoint"
    _network(truncating).load_state_dict(_network(plain).state_dict())
    tokens = [WORDS[(5 * i) % len(WORDS)] for i in range(20)]
    assert sum(map(len, _pieces(plain, tokens))) > 40
    docs = [Doc(plain.vocab, words=tokens), Doc(plain.vocab, words=["unbelievably"])]
    expected = _logits(plain, docs)
    _assert_varied(expected)
    assert torch.allclose(_logits(truncating, docs), expected, atol=1e-6)
    truncating.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert torch.allclose(_logits(loaded, docs), expected, atol=1e-6)


def test_the_optimizer_updates_the_encoder_at_its_share_of_the_rate(tiny_checkpoint):
    """Plain SGD (no clipping, no L2): each parameter moves by rate x gradient, the
    encoder's by rate x encoder_lr_scale x gradient."""
    nlp = _pipeline(tiny_checkpoint, encoder_lr_scale=0.25)
    tagger = nlp.get_pipe("torch_tagger")
    parameters = dict(_network(nlp).named_parameters())
    names = {
        "encoder.encoder.layer.0.attention.self.query.weight": 0.25,
        "encoder.embeddings.LayerNorm.bias": 0.25,
        "heads.tag.weight": 1.0,
        "layer_weights": 1.0,
    }
    before = {name: parameters[name].detach().clone() for name in names}
    tagger.update(corpus_examples(nlp)[:8], drop=0.0, sgd=None)
    gradients: Dict[str, torch.Tensor] = {}
    for name in names:
        gradient = parameters[name].grad
        assert gradient is not None and float(gradient.abs().max()) > 1e-6, name
        gradients[name] = gradient.clone()
    rate = 0.1
    tagger.finish_update(SGD(rate, grad_clip=0.0, L2=0.0, use_averages=False))
    for name, share in names.items():
        step = before[name] - parameters[name].detach()
        # float32 rounding of the updated weights: a few ulps of the weights' size
        rounding = 4e-7 * float(before[name].abs().max())
        assert torch.allclose(step, rate * share * gradients[name], rtol=1e-3, atol=rounding), name
