"""Keep torch usable in processes forked after it ran multi-threaded.

GNU OpenMP's thread pool does not survive `fork()`: a child that enters a parallel
region inherited from a parent that already used one waits forever. spaCy's
`nlp.pipe(n_process=...)` forks on Linux, so every forked child switches torch to
one intra-op thread, which never enters the broken pool. One thread per worker
process is also the right split of the cores between `n_process` workers.
"""

import os

import torch


def _single_thread_in_child() -> None:
    torch.set_num_threads(1)


os.register_at_fork(after_in_child=_single_thread_in_child)
