import torch

from spacy_torch_tagger.network import CharCNN


def test_padding_does_not_change_a_words_vector():
    torch.manual_seed(0)
    cnn = CharCNN(n_rows=50, embed_width=8, width=6)
    short = torch.tensor([[5, 6, 7, 0, 0]])
    longer_padding = torch.tensor([[5, 6, 7, 0, 0, 0, 0, 0]])
    assert cnn(short).shape == (1, 6)
    assert torch.allclose(cnn(short), cnn(longer_padding))


def test_spelling_changes_the_vector():
    torch.manual_seed(0)
    cnn = CharCNN(n_rows=50, embed_width=8, width=6)
    assert not torch.allclose(cnn(torch.tensor([[5, 6, 7]])), cnn(torch.tensor([[5, 6, 8]])))


def test_even_kernel_is_refused():
    try:
        CharCNN(n_rows=10, embed_width=4, width=4, kernel_size=2)
    except ValueError as error:
        assert "odd" in str(error)
    else:
        raise AssertionError("an even kernel size was accepted")


def test_character_vectors_start_at_the_word_tables_scale_with_zero_padding():
    """torch's default N(0, 1) let spelling outweigh the word vectors (std 0.1)
    and made spaCy's test_incomplete_data fail for some seeds."""
    torch.manual_seed(0)
    cnn = CharCNN(n_rows=2000, embed_width=32, width=6)
    weights = cnn.embed.weight.detach()
    assert torch.equal(weights[0], torch.zeros(32))
    assert 0.09 < float(weights[1:].std()) < 0.11
