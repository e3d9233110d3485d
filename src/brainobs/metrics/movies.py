"""Natural movies: trial-to-trial reliability (``reliability_nm1``, ``_nm2``, ``_nm3``).

The published definition (AllenSDK 2.16 ``NaturalMovie``, checked against its source):

- the trace is the **stored dF/F** (not the local %dF/F used by gratings and scenes);
- a repeat starts at every stimulus-table row whose ``frame`` is 0;
- every repeat is cut to the same length ``L = onset[1] - onset[0]`` frames (the distance
  between the first two onsets, even when a later repeat follows a gap between blocks);
- only the **first 10 repeats** are used;
- reliability = mean of the 45 pairwise Pearson correlations (i < j) between the repeat
  segments, pairs with an undefined correlation (constant or NaN segment) left out.

Here the correlations of all cells are computed at once: every segment is centred and
scaled to unit norm, and one batched matrix product gives every cell's (repeat × repeat)
correlation matrix.

Differences from AllenSDK, on purpose (where AllenSDK raises instead of returning a value):
with fewer than 10 repeats AllenSDK raises ``IndexError``, brainobs uses the pairs of the
repeats there are (NaN with fewer than two); a repeat whose segment would run past the end
of the recording makes AllenSDK raise (``pearsonr`` of unequal lengths), brainobs leaves
that repeat out. Full-length sessions (10 repeats of every movie) are not affected.

Examples
--------
>>> from brainobs.io import open_session                             # doctest: +SKIP
>>> natural_movies(open_session("500000001.nwb")).head()            # doctest: +SKIP
           reliability_nm1  reliability_nm3
cell_specimen_id
600000000          0.41           0.38
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainobs._validate import check_choices
from brainobs.errors import UnknownStimulusError
from brainobs.metrics import qc
from brainobs.vocab import MOVIE_STIMULI

__all__ = [
    "MAX_REPEATS",
    "MOVIE_COLUMNS",
    "movie_onsets",
    "movie_reliability",
    "movie_responses",
    "natural_movies",
    "repeat_correlations",
]

MAX_REPEATS = 10  # AllenSDK uses the first 10 repeats of every movie
MOVIE_COLUMNS = {
    "natural_movie_one": "reliability_nm1",
    "natural_movie_two": "reliability_nm2",
    "natural_movie_three": "reliability_nm3",
}


# --------------------------------------------------------------------------- kernel
def _check_kernel_args(dff: Any, onsets: Any, length: Any, max_repeats: Any
                       ) -> tuple[np.ndarray, np.ndarray, int]:
    x = np.asarray(dff)
    if x.ndim != 2:
        raise ValueError(f"dff must be a 2-D array (cells, frames); got shape {x.shape}")
    if x.dtype.kind not in "fiub":
        raise ValueError(f"dff must be numeric; got dtype {x.dtype}")
    on = np.asarray(onsets)
    if on.ndim != 1:
        raise ValueError(f"onsets must be a 1-D array of start frames; got shape {on.shape}")
    if on.size and on.dtype.kind == "f":
        if not np.all(np.isfinite(on)) or np.any(on != np.round(on)):
            bad = on[~np.isfinite(on) | (on != np.round(on))][0]
            raise ValueError(f"onsets must be integer frame indices; got {bad!r}")
    elif on.size and on.dtype.kind not in "iu":
        raise ValueError(f"onsets must be integer frame indices; got dtype {on.dtype}")
    on = on.astype(np.int64)
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 2:
        raise ValueError(f"length must be an integer number of frames >= 2; got {length!r}")
    if max_repeats is not None and (isinstance(max_repeats, bool)
                                    or not isinstance(max_repeats, (int, np.integer))
                                    or max_repeats < 1):
        raise ValueError(f"max_repeats must be a positive integer or None; got {max_repeats!r}")
    on = on[:max_repeats]
    n_frames = x.shape[1]
    outside = (on < 0) | (on + int(length) > n_frames)
    if outside.any():
        raise ValueError(
            f"repeat starting at frame {int(on[outside][0])} with length {int(length)} does not "
            f"fit in the trace ({n_frames} frames)")
    return x, on, int(length)


def _segments(x: np.ndarray, on: np.ndarray, length: int) -> np.ndarray:
    """(cells, repeats, length) float64 copy of the repeat segments."""
    idx = on[:, None] + np.arange(length)
    return x[:, idx].astype(np.float64, copy=False)


def _correlations(seg: np.ndarray) -> np.ndarray:
    """Pearson matrices (cells, R, R) of the rows of every cell's (R, L) segment block.

    Same conventions as ``scipy.stats.pearsonr``: a constant segment (all samples equal)
    correlates as NaN with everything, a NaN sample makes its segment's correlations NaN,
    and r is clipped to [-1, 1].
    """
    constant = np.all(seg == seg[..., :1], axis=-1)  # NaN != NaN: a NaN segment is not "constant"
    with np.errstate(invalid="ignore"):  # ±inf samples: inf - inf = NaN, as for NaN samples
        z = seg - seg.mean(axis=-1, keepdims=True)
        norm = np.sqrt(np.einsum("crl,crl->cr", z, z))
    ok = ~constant & (norm > 0)
    # Unit-norm rows: their dot products are the correlations.
    np.divide(z, norm[..., None], out=z, where=ok[..., None])
    z[~ok] = np.nan
    r = np.matmul(z, z.transpose(0, 2, 1))
    return np.clip(r, -1.0, 1.0, out=r)


def repeat_correlations(dff: Any, onsets: Any, length: int, max_repeats: int | None = MAX_REPEATS
                        ) -> np.ndarray:
    """Pearson correlation between every pair of movie repeats, for every cell.

    Parameters
    ----------
    dff : array (n_cells, n_frames)
        dF/F traces.
    onsets : 1-D int array
        Start frame of every repeat (the stimulus-table rows with ``frame == 0``).
    length : int
        Frames per repeat segment (AllenSDK: ``onsets[1] - onsets[0]``).
    max_repeats : int or None
        Use only the first ``max_repeats`` repeats (published: 10); None = all.

    Returns
    -------
    numpy.ndarray (n_cells, R, R), R = min(len(onsets), max_repeats); NaN where a segment
    is constant or holds a NaN.

    Examples
    --------
    >>> x = np.tile(np.sin(np.arange(10.0)), 3)[None]
    >>> repeat_correlations(x, [0, 10, 20], 10).round(6)[0]
    array([[1., 1., 1.],
           [1., 1., 1.],
           [1., 1., 1.]])
    """
    x, on, length = _check_kernel_args(dff, onsets, length, max_repeats)
    return _correlations(_segments(x, on, length))


def _upper_mean(r: np.ndarray) -> np.ndarray:
    """nanmean over i < j of every (R, R) matrix; NaN when no pair is defined."""
    n_rep = r.shape[-1]
    i, j = np.triu_indices(n_rep, k=1)
    pairs = r[:, i, j]
    defined = ~np.isnan(pairs)
    count = defined.sum(axis=1)
    total = np.where(defined, pairs, 0.0).sum(axis=1)
    out = np.full(r.shape[0], np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


def movie_reliability(dff: Any, onsets: Any, length: int, max_repeats: int | None = MAX_REPEATS
                      ) -> np.ndarray:
    """Published natural-movie reliability of every cell (the "trace matrix" path).

    Mean of the pairwise Pearson correlations (i < j) between the first ``max_repeats``
    repeat segments ``dff[:, onset:onset + length]``; undefined pairs (constant or NaN
    segment) are skipped; NaN when no pair is defined (e.g. a single repeat).

    Parameters
    ----------
    dff : array (n_cells, n_frames)
        dF/F traces (the stored dF/F for the published metric).
    onsets : 1-D int array
        Start frame of every repeat.
    length : int
        Frames per segment (>= 2).
    max_repeats : int or None
        Number of leading repeats used (published: 10); None = all.

    Returns
    -------
    numpy.ndarray (n_cells,) float64

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clip = rng.normal(size=50)
    >>> x = np.vstack([np.tile(clip, 4), rng.normal(size=200)])
    >>> movie_reliability(x, [0, 50, 100, 150], 50).round(2)
    array([1.  , 0.02])
    """
    x, on, length = _check_kernel_args(dff, onsets, length, max_repeats)
    if on.size < 2:
        return np.full(x.shape[0], np.nan)
    return _upper_mean(_correlations(_segments(x, on, length)))


# --------------------------------------------------------------------------- sessions
def movie_onsets(table: pd.DataFrame) -> tuple[np.ndarray, int | None]:
    """Repeat onsets and the published segment length from a movie's stimulus table.

    Onsets are the ``start`` of the rows with ``frame == 0``; the length is the distance
    between the first two onsets (None with fewer than two repeats).

    Examples
    --------
    >>> t = pd.DataFrame({"frame": [0, 1, 2, 0, 1, 2], "start": [10, 11, 12, 13, 14, 15]})
    >>> movie_onsets(t)
    (array([10, 13]), 3)
    """
    missing = {"frame", "start"} - set(table.columns)
    if missing:
        raise ValueError(f"a movie stimulus table needs columns frame and start; missing {sorted(missing)}")
    onsets = table.loc[table["frame"].to_numpy() == 0, "start"].to_numpy(dtype=np.int64)
    length = int(onsets[1] - onsets[0]) if onsets.size >= 2 else None
    return onsets, length


def _session_movies(session: Any, movies: Any) -> list[str]:
    if movies is None:
        shown = set(session.list_stimuli())
        return [m for m in MOVIE_STIMULI if m in shown]
    return check_choices(movies, MOVIE_STIMULI, UnknownStimulusError, "movies") or []


def _read_segments(session: Any, movie: str, max_repeats: int | None
                   ) -> tuple[np.ndarray, np.ndarray, int | None, int, int, int]:
    """(dF/F block covering the used repeats, onsets relative to it, length, block start,
    repeats considered, repeats left out because they leave the recording)."""
    from brainobs.io.stimulus import check_table
    from brainobs.metrics.gratings import _where

    table = session.stimulus_table(movie)
    check_table(movie, table, where=_where(session), min_rows=1)
    onsets, length = movie_onsets(table)
    onsets = onsets[:max_repeats]
    n_considered = int(onsets.size)
    if length is None:
        return (np.empty((len(session.cell_specimen_ids), 0), np.float32), onsets, None, 0,
                n_considered, 0)
    # A repeat whose segment leaves the recording is left out (AllenSDK raises there:
    # pearsonr of unequal lengths); counted in the QC record.
    onsets = onsets[(onsets >= 0) & (onsets + length <= int(session.n_frames))]
    n_out = n_considered - int(onsets.size)
    if onsets.size == 0:
        return (np.empty((len(session.cell_specimen_ids), 0), np.float32), onsets, length, 0,
                n_considered, n_out)
    # Read only the frames the used repeats cover (a hyperslab, not the whole matrix).
    first = int(onsets.min())
    stop = int(onsets.max()) + length
    block = np.asarray(session.dff(frames=(first, stop)).values)
    return block, onsets - first, length, first, n_considered, n_out


def movie_responses(session: Any, movie: str, max_repeats: int | None = MAX_REPEATS
                    ) -> xr.DataArray:
    """The stored dF/F of every repeat of a movie, labelled ``(cell, repeat, frame)``.

    ``frame`` is the movie frame (0 … L − 1, L = distance between the first two onsets);
    coordinates ``cell_specimen_id`` and ``onset`` (imaging frame of each repeat's start).

    Examples
    --------
    >>> r = movie_responses(session, "natural_movie_one")               # doctest: +SKIP
    >>> r.mean("repeat").sel(cell=0).plot()                             # doctest: +SKIP
    """
    names = _session_movies(session, movie)
    if len(names) != 1:
        raise ValueError(f"movie must be one movie name; got {movie!r}")
    name = names[0]
    block, rel, length, first, _, _ = _read_segments(session, name, max_repeats)
    if length is None:
        raise ValueError(f"{name} has fewer than two repeats in this session; "
                         "the segment length is undefined")
    seg = _segments(block, rel, length)
    return xr.DataArray(
        seg,
        dims=("cell", "repeat", "frame"),
        coords={
            "cell_specimen_id": ("cell", np.asarray(session.cell_specimen_ids, dtype=np.int64)),
            "repeat": np.arange(seg.shape[1]),
            "onset": ("repeat", rel + first),
            "frame": np.arange(length),
        },
        name=f"{name}_dff",
        attrs={"stimulus": name, "length": length, "units": "dF/F"},
    )


def natural_movies(session: Any, movies: Any = None, max_repeats: int | None = MAX_REPEATS
                   ) -> pd.DataFrame:
    """Published natural-movie reliability of every cell of a session.

    Parameters
    ----------
    session : brainobs.io.Session
        Uses ``list_stimuli()``, ``stimulus_table(name)``, ``dff(frames=...)``,
        ``cell_specimen_ids`` and ``n_frames``.
    movies : str or list of str, optional
        Movies to analyse (default: every natural movie the session shows). A movie the
        session does not show raises :class:`~brainobs.errors.UnknownStimulusError` listing
        the session's stimuli.
    max_repeats : int or None
        Leading repeats used (published: 10); None = all.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell_specimen_id`` (int64, file order), one column per movie shown:
        ``reliability_nm1``, ``reliability_nm2``, ``reliability_nm3``, each followed by its
        QC column (``qc_nm1`` ...: ``""``, or ``"nan_trace"``/``"inf_trace"`` for a cell whose
        dF/F has a non-finite sample in a used repeat — that cell's reliability is NaN).
        A movie with fewer than two usable repeats (a repeat leaving the recording is left
        out and counted in ``attrs["qc"]``) gives NaN. An empty movie table raises
        :class:`~brainobs.errors.StimulusTableError`.

    Examples
    --------
    >>> natural_movies(session)["reliability_nm1"].describe()           # doctest: +SKIP
    """
    names = _session_movies(session, movies)
    index = pd.Index(np.asarray(session.cell_specimen_ids, dtype=np.int64), name="cell_specimen_id")
    parts = [pd.DataFrame(index=index)]
    for name in names:
        block, rel, length, _, n_rep, n_out = _read_segments(session, name, max_repeats)
        part = pd.DataFrame(index=index)
        reason = np.full(len(index), "", dtype=object)
        if length is None or rel.size == 0:
            part[MOVIE_COLUMNS[name]] = np.nan
        else:
            # cells with NaN/inf in a used segment: NaN with a reason (qc.apply), computed on
            # a constant stand-in so that nothing else changes
            used = qc.used_frames(rel, 0, length, block.shape[1])
            reason = qc.cell_flags(block, used)
            clean = qc.replace_bad(block, reason)
            part[MOVIE_COLUMNS[name]] = movie_reliability(clean, rel, length, None)
        qc.apply(part, reason, qc.QC_COLUMNS[name], family="natural_movies", stimulus=name,
                 n_trials=n_rep, trials_excluded=n_out)
        parts.append(part)
    out = pd.concat(parts, axis=1)
    out.attrs = {"qc": qc.records(parts)}
    return out
