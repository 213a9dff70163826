"""A doc of the same text cut at other token boundaries."""

from typing import List, Set, Tuple

from spacy.tokens import Doc


def rebuild(doc: Doc, boundaries: Set[int]) -> Doc:
    """A new doc of the same text cut at `boundaries` (which hold every token start and end);
    tokens that keep their span keep the norm the base tokenizer gave them."""
    text = doc.text
    columns = doc.to_array(["IDX", "LENGTH", "SPACY", "NORM", "LOWER"]).tolist()
    gaps = {start + length for start, length, space_after, _, _ in columns if space_after}
    norms = {
        (start, start + length): doc[index].norm_
        for index, (start, length, _, norm, lower) in enumerate(columns)
        if norm != lower
    }
    cuts = sorted(boundaries | {len(text)})
    words: List[str] = []
    spaces: List[bool] = []
    spans: List[Tuple[int, int]] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        if start in gaps and end == start + 1 and spans and spans[-1][1] == start:
            spaces[-1] = True  # the single space after a token is its whitespace, not a token
            continue
        words.append(text[start:end])
        spaces.append(False)
        spans.append((start, end))
    new_doc = Doc(doc.vocab, words=words, spaces=spaces)
    for index, span in enumerate(spans):
        if span in norms:
            new_doc[index].norm_ = norms[span]
    return new_doc
