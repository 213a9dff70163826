"""The progress bar on stderr: documents done, words per second and the ETA (tqdm)."""

import sys
import threading
import time
from typing import Optional

from tqdm import tqdm


class Progress:
    """Counts documents and words; shows them on stderr unless disabled. Safe to move
    from another thread than the one that made it."""

    def __init__(self, total_docs: int, enabled: bool = True, label: str = "annotate") -> None:
        self.enabled = enabled
        self.docs = 0
        self.words = 0
        self._lock = threading.Lock()
        self._start = time.perf_counter()
        self._bar: Optional[tqdm] = (
            tqdm(
                total=total_docs, desc=label, unit="doc", file=sys.stderr, mininterval=0.5, dynamic_ncols=True
            )
            if enabled
            else None
        )

    def update(self, docs: int, words: int) -> None:
        """Add `docs` documents of `words` words."""
        with self._lock:
            self._move(self.docs + docs, self.words + words)

    def set(self, docs: int, words: int) -> None:
        """Set the totals done so far (they may go down when work is redone)."""
        with self._lock:
            self._move(docs, words)

    def _move(self, docs: int, words: int) -> None:
        step = docs - self.docs
        self.docs, self.words = docs, words
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self.words_per_second:,.0f} words/s", refresh=False)
            self._bar.update(step)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._start

    @property
    def words_per_second(self) -> float:
        return self.words / max(self.seconds, 1e-9)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
