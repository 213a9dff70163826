"""Tokenizers: the language's own for configs whose language is an override
(language_tokenizer), and one that learns the treebank's token boundaries.

spaCy's rule-based tokenizer proposes the tokens; a linear classifier trained on the
training corpus during `nlp.initialize` (so by `spacy train`) keeps or removes each
boundary inside a whitespace-delimited chunk and adds the splits the treebank makes
there (`and/or`, `!!`, phone numbers, `wanna` -> `wan na`). Untrained, it gives
spaCy's tokens unchanged.

For the second: boundary_candidates (positions and their features) <- boundary_classifier
(the weights, training, safe storage) <- treebank_tokenizer (the spaCy tokenizer).
"""
