"""A small feature spec and random batches for it, shared by the network tests."""

from typing import List

import torch

from spacy_torch_tagger.network import TaggerBatch
from spacy_torch_tagger.network.feature_spec import FeatureSpec

SPEC = FeatureSpec(
    vocab_attr="NORM",
    vocab_rows=20,
    vocab_min_count=1,
    attrs=("SUFFIX",),
    rows=(30,),
    n_hashes=2,
    max_chars=6,
    char_rows=40,
)


def random_batch(lengths: List[int]) -> TaggerBatch:
    """Random ids within SPEC's tables for sequences of the given lengths."""
    n = sum(lengths)
    return TaggerBatch(
        lengths=torch.tensor(lengths),
        words=torch.randint(0, 20, (n,)),
        lexical=torch.randint(0, 30, (n, 1, 2)),
        chars=torch.randint(0, 40, (n, 6)),
        token_types=torch.arange(n),
    )
