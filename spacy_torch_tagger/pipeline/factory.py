"""The `torch_tagger` factory: what `nlp.add_pipe("torch_tagger")` and a
config's `factory = "torch_tagger"` create.

The default model names the architectures only; their settings and defaults
come from the architecture functions (layers/architectures.py), which `spacy init
fill-config` and `nlp.add_pipe` fill in.
"""

from typing import Callable, Dict, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

from .component import TorchTagger
from .scorer import COMBINED_KEY
from .targets import TARGETS

DEFAULT_MODEL = {
    "@architectures": "spacy_torch_tagger.TorchTagger.v2",
    "features": {"@architectures": "spacy_torch_tagger.TokenFeatures.v1"},
    "network": {"@architectures": "spacy_torch_tagger.LSTMNetwork.v1"},
}


# Training selects on the mean accuracy of whatever targets the component
# predicts. Each target's own keys depend on the instance's targets, which a
# factory's defaults cannot know: `initialize` adds those of the targets in use
# to [training.score_weights] unweighted (scorer.fit_score_weights), so the saved
# meta's "performance" and `spacy package`'s README hold no key of a target the
# pipeline does not predict.
DEFAULT_SCORE_WEIGHTS: Dict[str, Optional[float]] = {COMBINED_KEY: 1.0}


@Language.factory(
    "torch_tagger",
    assigns=[f"token.{target}" for target in TARGETS],
    default_config={
        "model": DEFAULT_MODEL,
        "targets": ["tag"],
        "overwrite": False,
        "neg_prefix": "!",
        "label_smoothing": 0.0,
        "torch_threads": 1,
        "probabilities": False,
        "top_k": 0,
        "scorer": {"@scorers": "spacy_torch_tagger.scorer.v1"},
    },
    default_score_weights=DEFAULT_SCORE_WEIGHTS,
)
def make_torch_tagger(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    targets: Union[str, List[str]],
    overwrite: bool,
    neg_prefix: str,
    label_smoothing: float,
    torch_threads: Optional[int],
    probabilities: bool,
    top_k: int,
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
        probabilities=probabilities,
        top_k=top_k,
        scorer=scorer,
    )
