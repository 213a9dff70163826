import torch

from spacy_torch_tagger.network import LSTMEncoder
from spacy_torch_tagger.network.sequence_encoder import packing_plan


def _one_doc_at_a_time(encoder: LSTMEncoder, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    outputs, start = [], 0
    for n in lengths.tolist():
        hidden = tokens[start : start + n].unsqueeze(0)
        for layer in encoder.layers:
            hidden = layer(hidden)[0]
        outputs.append(hidden[0])
        start += n
    return torch.cat(outputs)


def test_batched_docs_equal_docs_run_alone():
    torch.manual_seed(0)
    encoder = LSTMEncoder(input_width=5, hidden_width=4, depth=2, bidirectional=True).eval()
    lengths = torch.tensor([3, 7, 1, 5, 7])
    tokens = torch.randn(int(lengths.sum()), 5)
    batched = encoder(tokens, lengths)
    assert batched.shape == (23, 8)
    assert torch.allclose(batched, _one_doc_at_a_time(encoder, tokens, lengths), atol=1e-6)


def test_docs_do_not_see_each_other():
    torch.manual_seed(0)
    encoder = LSTMEncoder(input_width=3, hidden_width=4, depth=1, bidirectional=True).eval()
    first = torch.randn(4, 3)
    alone = encoder(first, torch.tensor([4]))
    with_neighbour = encoder(torch.cat([first, torch.randn(6, 3)]), torch.tensor([4, 6]))[:4]
    assert torch.allclose(alone, with_neighbour, atol=1e-6)


def test_gradients_reach_the_inputs():
    encoder = LSTMEncoder(input_width=3, hidden_width=2, depth=1, bidirectional=False)
    tokens = torch.randn(5, 3, requires_grad=True)
    encoder(tokens, torch.tensor([2, 3])).sum().backward()
    assert tokens.grad is not None and bool((tokens.grad != 0).any())


def test_packing_plan_orders_by_step_then_longest_doc():
    rows, batch_sizes, sorted_docs, ranks = packing_plan(torch.tensor([2, 3]))
    # doc 1 (3 tokens) is longest: step 0 -> [doc1, doc0], step 1 -> [doc1, doc0], step 2 -> [doc1]
    assert batch_sizes.tolist() == [2, 2, 1]
    assert sorted_docs.tolist() == [1, 0] and ranks.tolist() == [1, 0]
    assert rows.tolist() == [1, 3, 0, 2, 4]


def test_empty_batch():
    encoder = LSTMEncoder(input_width=3, hidden_width=2, depth=1, bidirectional=True)
    assert encoder(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)).shape == (0, 4)
