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
