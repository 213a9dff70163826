"""The `torch_tagger` factory: what `nlp.add_pipe("torch_tagger")` and a
config's `factory = "torch_tagger"` create.

The default model names the architectures only; their settings and defaults
come from the architecture functions (architectures.py), which `spacy init
fill-config` and `nlp.add_pipe` fill in.
"""

from typing import Callable, List, Optional

from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

from .component import TorchTagger
from .scorer import COMBINED_KEY

DEFAULT_MODEL = {
    "@architectures": "spacy_torch_tagger.TorchTagger.v1",
    "features": {"@architectures": "spacy_torch_tagger.TokenFeatures.v1"},
    "network": {"@architectures": "spacy_torch_tagger.LSTMNetwork.v1"},
}


@Language.factory(
    "torch_tagger",
    assigns=["token.tag", "token.pos", "token.morph"],
    default_config={
        "model": DEFAULT_MODEL,
        "targets": ["tag"],
        "overwrite": False,
        "neg_prefix": "!",
        "label_smoothing": 0.0,
        "torch_threads": 1,
        "scorer": {"@scorers": "spacy_torch_tagger.scorer.v1"},
    },
    # Training selects on the mean accuracy of whatever targets the component
    # predicts; the per-target accuracies are reported but not weighted.
    default_score_weights={
        COMBINED_KEY: 1.0,
        "tag_acc": None,
        "pos_acc": None,
        "morph_acc": None,
        "morph_per_feat": None,
    },
)
def make_torch_tagger(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    targets: List[str],
    overwrite: bool,
    neg_prefix: str,
    label_smoothing: float,
    torch_threads: Optional[int],
    scorer: Optional[Callable],
) -> TorchTagger:
    """Create a torch_tagger: one PyTorch network predicting tag, pos and/or morph."""
    return TorchTagger(
        nlp.vocab,
        model,
        name,
        targets=targets,
        overwrite=overwrite,
        neg_prefix=neg_prefix,
        label_smoothing=label_smoothing,
        torch_threads=torch_threads,
        scorer=scorer,
    )
