"""How many threads torch runs on for the component, and torch in forked workers.

torch's intra-op threads wait for each other at the end of every parallel
region; on a machine whose cores are busy with other work, one of them is
descheduled and the others wait (see benchmarks/results/torch_threads.json).
The component sets torch's thread count once per process, the first time it
runs, from its `torch_threads` setting (None leaves torch's own setting).

GNU OpenMP's thread pool does not survive `fork()`: a child that enters a
parallel region inherited from a parent that already used one waits forever.
spaCy's `nlp.pipe(n_process=...)` forks on Linux, so once a component exists,
every forked child switches torch to one thread, which never enters the broken
pool. One thread per worker is also the right split of the cores between
`n_process` workers.
"""

import os
from typing import Optional

import torch

_state = {"fork_handler": False, "applied_in": -1}


def register_fork_handler() -> None:
    """Make forked children run torch on one thread (once per process; a no-op
    where the platform cannot fork)."""
    if _state["fork_handler"] or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(after_in_child=_single_thread_in_child)
    _state["fork_handler"] = True


def apply_torch_threads(n_threads: Optional[int]) -> None:
    """Set torch's intra-op threads to `n_threads` the first time this process
    asks; later calls leave whatever the program set since. None: leave torch alone."""
    if n_threads is None or _state["applied_in"] == os.getpid():
        return
    _state["applied_in"] = os.getpid()
    if torch.get_num_threads() != n_threads:
        torch.set_num_threads(n_threads)


def _single_thread_in_child() -> None:
    torch.set_num_threads(1)
    _state["applied_in"] = os.getpid()
