"""Time in the demo simulation: whole days and seconds counted from 2022-07-01.

Plain integers (days) and floats (seconds, NaN for "never happened") keep the simulation
vectorised; they become date strings only when the CSV files are written.
"""

from __future__ import annotations

import numpy as np

EPOCH = np.datetime64("2022-07-01", "D")
DAY_S = 86_400.0


def day(iso: str) -> int:
    """Day number of an ISO date (``2022-07-01`` is day 0)."""
    return int((np.datetime64(iso, "D") - EPOCH).astype(np.int64))


FIRST_DAY = day("2022-07-01")
LAST_DAY = day("2024-09-30")  # the export's cut-off: nothing happens after this day
END_S = (LAST_DAY + 1) * DAY_S - 1


def date_strings(days: np.ndarray) -> np.ndarray:
    """``2024-04-01`` strings for day numbers."""
    return np.datetime_as_string(EPOCH + np.asarray(days, dtype="timedelta64[D]"), unit="D").astype(object)


def time_strings(seconds: np.ndarray) -> np.ndarray:
    """``2024-04-01 10:05:09`` strings for seconds; NaN (never happened) becomes an empty cell."""
    seconds = np.asarray(seconds, dtype=float)
    missing = np.isnan(seconds)
    whole = np.where(missing, 0, np.floor(seconds)).astype(np.int64)
    stamps = EPOCH.astype("datetime64[s]") + whole.astype("timedelta64[s]")
    text = np.char.replace(np.datetime_as_string(stamps, unit="s"), "T", " ").astype(object)
    text[missing] = ""
    return text
