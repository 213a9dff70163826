"""`spacy_torch_tagger.LanguageTokenizer.v1`: the tokenizer spaCy gives the pipeline's
language by default, for configs whose language is an override (configs/ud_fast.cfg).

`[nlp.tokenizer]` cannot follow `--nlp.lang`: a config naming `spacy.Tokenizer.v1`
gives Chinese or Japanese the rule-based tokenizer, which splits text only at spaces
and punctuation, so a sentence without spaces is one token. This resolves the
language class's own `[nlp.tokenizer]` when the pipeline is created: the rule-based
tokenizer for most languages, spaCy's word segmenters for zh, ja, ko, th and vi.
"""

from typing import Any, Callable

from spacy.language import Language
from spacy.util import registry


@registry.tokenizers("spacy_torch_tagger.LanguageTokenizer.v1")
def make_language_tokenizer() -> Callable[[Language], Any]:
    def create_tokenizer(nlp: Language) -> Any:
        settings = type(nlp).default_config["nlp"]["tokenizer"]
        make: Callable[[Language], Any] = registry.resolve({"tokenizer": settings})["tokenizer"]
        return make(nlp)

    return create_tokenizer
