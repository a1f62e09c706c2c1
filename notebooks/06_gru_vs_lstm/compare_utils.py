"""Helpers for the GRU vs LSTM notebook.

The quiz questions' format check, ``check_format``, is in ``quiz_utils.py``.
"""


def print_table(headers, rows):
    """Print rows (lists of values) under headers, in aligned columns."""
    text = [list(map(str, headers))] + [[str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    for n, row in enumerate(text):
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def moving_average(values, window):
    """Mean over a sliding window (shorter at the start), same length as ``values``."""
    import numpy as np
    values = np.asarray(values, dtype=float)
    window = max(1, min(int(window), len(values)))
    csum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)
