"""`python -m spacy_torch_tagger annotate`: tag a corpus of JSONL or text lines into
shards of records, on local processes (`nlp.pipe`) or a Ray cluster (Ray Data).

- reading.py: input files, line numbers, malformed lines
- records.py: a tagged Doc as a JSON record or a DocBin doc
- shards.py: line-range shards, atomic writes, resume, the manifest
- progress.py: the progress bar on stderr
- local_engine.py / ray_engine.py: the two ways to run the pipeline
- ray_datasink.py: the Ray engine with Ray Data's writer (shards written on the cluster)
- job.py: one run, from the input to `_SUCCESS`
"""
