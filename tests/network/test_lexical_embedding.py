import torch

from spacy_torch_tagger.network import LexicalEmbedding


def test_output_width_counts_word_table_and_hashed_tables():
    embed = LexicalEmbedding(vocab_rows=10, hashed_rows=[5, 7], width=4)
    words = torch.tensor([1, 0, 9])
    lexical = torch.tensor([[[0, 1], [2, 3]], [[4, 4], [6, 0]], [[1, 1], [1, 1]]])
    assert embed(words, lexical).shape == (3, 12)
    assert embed.output_width == 12


def test_hashed_rows_are_summed_per_attribute():
    embed = LexicalEmbedding(vocab_rows=0, hashed_rows=[5], width=3)
    lexical = torch.tensor([[[1, 2]]])
    table = embed.hashed[0]
    assert isinstance(table, torch.nn.Embedding)
    expected = table.weight[1] + table.weight[2]
    assert torch.allclose(embed(torch.zeros(1, dtype=torch.long), lexical)[0], expected)


def test_word_dropout_replaces_words_with_the_unknown_row_only_in_training():
    torch.manual_seed(0)
    embed = LexicalEmbedding(vocab_rows=4, hashed_rows=[], width=2, word_dropout=0.5)
    words = torch.full((2000,), 3)
    lexical = torch.zeros((2000, 0, 1), dtype=torch.long)
    assert embed.words is not None
    unknown, known = embed.words.weight[0], embed.words.weight[3]
    embed.train()
    out = embed(words, lexical)
    n_unknown = int((out == unknown).all(dim=1).sum())
    assert 800 < n_unknown < 1200
    assert int((out == known).all(dim=1).sum()) == 2000 - n_unknown
    embed.eval()
    assert (embed(words, lexical) == known).all()
