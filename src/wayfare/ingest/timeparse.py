"""Turning a column of times as people export them into UTC: ISO 8601, common date formats
(``2010-12-01 08:26``, ``12/1/2010 8:26``, ``01.12.2010``, ``20100101``), epoch seconds or milliseconds."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["parse_times"]


def _epoch(num: pd.Series) -> pd.Series:
    a = num.abs()
    unit = np.where(a < 1e11, "s", np.where(a < 1e14, "ms", "us"))
    out = pd.Series(pd.NaT, index=num.index, dtype="datetime64[us]")
    for u in ("s", "ms", "us"):
        m = (unit == u) & num.notna().to_numpy()
        if m.any():
            out[m] = pd.to_datetime(num[m], unit=u, errors="coerce").astype("datetime64[us]")
    return out


def _dayfirst(s: pd.Series) -> bool:
    parts = s.str.extract(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}")
    if parts.isna().all().all():
        return False
    a = pd.to_numeric(parts[0], errors="coerce")
    b = pd.to_numeric(parts[1], errors="coerce")
    return bool((a > 12).any() and not (b > 12).any())


def parse_times(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(naive-UTC datetimes, mask of values present but not understood)."""
    s = values.astype("string").str.strip()
    present = s.notna() & (s != "")
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    if not present.any():
        return out, ~present & False
    v = s[present]
    num = pd.to_numeric(v, errors="coerce")
    if num.notna().all():
        ymd = num.between(19000101, 21001231) & (num % 1 == 0)
        if ymd.all():
            out[present] = pd.to_datetime(v, format="%Y%m%d", errors="coerce").astype("datetime64[us]")
        else:
            out[present] = _epoch(num)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(v, utc=True, errors="coerce", format="ISO8601")
            bad = parsed.isna()
            if bad.any():
                retry = pd.to_datetime(v[bad], utc=True, errors="coerce", format="mixed", dayfirst=_dayfirst(v[bad]))
                parsed[bad] = retry
        out[present] = parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    bad_mask = present & out.isna()
    return out, bad_mask
