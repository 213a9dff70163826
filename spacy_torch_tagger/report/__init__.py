"""The evaluation report: `python -m spacy_torch_tagger report` (commands/report.py).

evaluation.py runs a pipeline the way `spacy evaluate` does; tokens.py picks the tokens
the per-token analysis compares; analysis.py counts; figures.py draws (matplotlib);
markdown.py formats; build.py puts report.md (laid out by report.md.jinja), report.json
and the figures together.
"""
