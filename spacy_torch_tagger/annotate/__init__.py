"""`python -m spacy_torch_tagger annotate`: tag a corpus of JSONL or text lines or
`.spacy` DocBins into shards of records, on local processes (`nlp.pipe`) or a Ray
cluster (Ray Data).

- input_errors.py: the errors of an unusable input
- reading.py: input files, the parsing of a line, a shard's lines read back alone
- docbin_input.py: a DocBin's Docs as documents (a shard's part, their ids)
- scan.py: the one pass over the input (validation, hashes, shard descriptions)
- fingerprint.py: the pipeline's and the --code file's content hashes, and whether a
  directory is a pipeline
- layout.py: `_layout.json`, the resume key, and what changed when it differs
- user_code.py: --code, imported before the pipeline loads
- records.py: a tagged Doc as a JSON record or a DocBin doc
- atomic.py: a file written whole or not at all
- shards.py: line-range shards and their writers, the output directory, the manifest
- progress.py: the progress bar on stderr
- local_engine.py / ray_engine.py: the two ways to run the pipeline
- job.py: one run, from the input to `_SUCCESS`
"""
