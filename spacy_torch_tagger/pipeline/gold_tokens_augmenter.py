"""A corpus augmenter that shows the network both tokenizations it meets in use.

With `gold_preproc = false` spaCy's corpus gives each doc as the tokenizer splits its
text, which is what raw text looks like at inference. Pre-tokenized input (a `Doc`
built from words, or `spacy evaluate --gold-preproc`) differs: the treebank's tokens,
one sentence at a time, without the norms the tokenizer's exceptions set (`n't` ->
`not`). This augmenter yields the corpus's example and then each gold sentence of it
with the treebank's tokens, so training sees both.
"""

from typing import Callable, Iterator

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry


def gold_sentence_examples(nlp: Language, example: Example) -> Iterator[Example]:
    """Each sentence of the reference as its own example, predicted doc = gold tokens."""
    reference = example.reference
    sentences = (
        [sent.as_doc() for sent in reference.sents] if reference.has_annotation("SENT_START") else [reference]
    )
    for sentence in sentences:
        if len(sentence):
            words = Doc(
                nlp.vocab,
                words=[token.text for token in sentence],
                spaces=[bool(token.whitespace_) for token in sentence],
            )
            yield Example(words, sentence)


def with_gold_tokens(nlp: Language, example: Example) -> Iterator[Example]:
    """The example as the corpus made it, then its gold sentences on gold tokens;
    only the example when it already is one sentence on gold tokens (gold_preproc)."""
    yield example
    same_tokens = [token.text for token in example.predicted] == [token.text for token in example.reference]
    one_sentence = (
        not example.reference.has_annotation("SENT_START") or len(list(example.reference.sents)) == 1
    )
    if not (same_tokens and one_sentence):
        yield from gold_sentence_examples(nlp, example)


@registry.augmenters("spacy_torch_tagger.with_gold_tokens.v1")
def make_with_gold_tokens() -> Callable[[Language, Example], Iterator[Example]]:
    """[corpora.train.augmenter]: every training doc on the tokenizer's tokens (with
    gold_preproc = false) and again as gold-token sentences."""
    return with_gold_tokens
