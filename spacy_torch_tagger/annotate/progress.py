"""The progress bar on stderr: documents done, words per second and the ETA (tqdm)."""

import sys
import time
from typing import Optional

from tqdm import tqdm


class Progress:
    """Counts documents and words; shows them on stderr unless disabled."""

    def __init__(self, total_docs: int, enabled: bool = True, label: str = "annotate") -> None:
        self.enabled = enabled
        self.docs = 0
        self.words = 0
        self._start = time.perf_counter()
        self._bar: Optional[tqdm] = (
            tqdm(
                total=total_docs, desc=label, unit="doc", file=sys.stderr, mininterval=0.5, dynamic_ncols=True
            )
            if enabled
            else None
        )

    def update(self, docs: int, words: int) -> None:
        self.docs += docs
        self.words += words
        if self._bar is not None:
            self._bar.update(docs)
            self._bar.set_postfix_str(f"{self.words_per_second:,.0f} words/s", refresh=False)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._start

    @property
    def words_per_second(self) -> float:
        return self.words / max(self.seconds, 1e-9)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
