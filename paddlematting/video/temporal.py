"""MODNet's one-frame-delay (OFD) trick against flicker (Ke et al., AAAI 2022, Sec. 4.2).

A pixel whose alpha at frame t differs by more than ``threshold`` from both neighbours, while
the neighbours agree within ``threshold``, is flicker: it takes the neighbours' mean. Deciding
frame t needs frame t+1, so output lags input by one frame; the first and last frames pass
through unchanged.
"""
from typing import List, Optional

import numpy as np

__all__ = ['OneFrameDelay']


class OneFrameDelay:
    """Feed alphas in order with ``push``; collect the filtered ones it returns (one behind),
    then the last with ``flush``.

    Args:
        threshold: xi of the paper, in alpha units (alpha in [0, 1]); 0.1 by default.
    """

    def __init__(self, threshold: float = 0.1):
        self.threshold = float(threshold)
        # the predictions (unfiltered, as in the paper) of frames t-1 and t; t waits for t+1
        self._previous: Optional[np.ndarray] = None
        self._current: Optional[np.ndarray] = None

    def push(self, alpha: np.ndarray) -> List[np.ndarray]:
        """Add frame t+1 (float [H, W] in [0, 1]); returns the finished frames (0 or 1 of them)."""
        alpha = np.asarray(alpha, dtype=np.float32)
        if self._current is None:
            self._current = alpha
            return []
        previous, current, following = self._previous, self._current, alpha
        self._previous, self._current = current, following
        if previous is None:  # the first frame has no predecessor
            return [current]
        flicker = ((np.abs(previous - following) <= self.threshold)
                   & (np.abs(current - previous) > self.threshold)
                   & (np.abs(current - following) > self.threshold))
        return [np.where(flicker, (previous + following) * np.float32(0.5), current)]

    def flush(self) -> List[np.ndarray]:
        """The last frame (unchanged), if any; the filter is then empty."""
        last, self._previous, self._current = self._current, None, None
        return [] if last is None else [last]
