"""Stimulus schedules of the three sessions, in two-photon frame indices.

A schedule is the ordered list of blocks of a session type (the real ``three_session_*``
order, with spontaneous gray-screen blocks between them) expanded into presentation rows:
``start``/``end`` frame indices plus the condition of every sweep, in randomized order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from brainobs import vocab

# Real block order of each session type: (stimulus, block index).
BLOCK_ORDER: dict[str, tuple[str, ...]] = {
    "three_session_A": (
        "drifting_gratings", "natural_movie_three", "natural_movie_one", "drifting_gratings",
        "spontaneous", "natural_movie_three", "drifting_gratings",
    ),
    "three_session_B": (
        "static_gratings", "natural_scenes", "spontaneous", "natural_scenes", "static_gratings",
        "natural_movie_one", "natural_scenes", "static_gratings",
    ),
    "three_session_C": (
        "locally_sparse_noise", "spontaneous", "natural_movie_one", "locally_sparse_noise",
        "natural_movie_two", "spontaneous", "locally_sparse_noise",
    ),
    "three_session_C2": (
        "locally_sparse_noise_4deg", "natural_movie_one", "locally_sparse_noise_8deg",
        "spontaneous", "natural_movie_two", "locally_sparse_noise_4deg",
        "locally_sparse_noise_8deg",
    ),
}

DG_ON_FRAMES = 60  # 2 s grating
DG_OFF_FRAMES = 30  # 1 s gray between gratings
FLASH_FRAMES = 7.5  # 0.25 s per static grating / scene / sparse-noise frame at 30 Hz
BLOCK_GAP_FRAMES = 60  # gray between blocks
# Gray before the first and after the last block: every sweep window (up to 4 sweeps of
# baseline before and after a flash) then lies inside the recording, as in real sessions.
LEAD_FRAMES = 90


@dataclass(frozen=True)
class SizePreset:
    """Scale of a synthetic observatory (see :func:`brainobs.synth.generate_observatory`)."""

    name: str
    n_containers: int
    n_cells: int
    dg_repeats: int
    dg_blanks: int
    sg_repeats: int
    ns_repeats: int
    lsn_frames: dict[str, int]  # template frames shown (all blocks together)
    movie_frames: dict[str, int]  # template length
    movie_repeats: dict[str, int]  # repeats per block
    spont_frames: int
    ns_shape: tuple[int, int]
    movie_shape: tuple[int, int]
    lsn_spots: dict[str, int] = field(default_factory=lambda: {"4deg": 12, "8deg": 5})


SIZES: dict[str, SizePreset] = {
    "tiny": SizePreset(
        "tiny", n_containers=4, n_cells=8, dg_repeats=2, dg_blanks=3, sg_repeats=1,
        ns_repeats=4,
        lsn_frames={"locally_sparse_noise": 900, "locally_sparse_noise_4deg": 600,
                    "locally_sparse_noise_8deg": 300},
        # Short clips but the real repeat counts (10, 10, 5 per block), which the published
        # reliability needs.
        movie_frames={"natural_movie_one": 60, "natural_movie_two": 60,
                      "natural_movie_three": 60},
        movie_repeats={"natural_movie_one": 10, "natural_movie_two": 10, "natural_movie_three": 5},
        spont_frames=300, ns_shape=(46, 58), movie_shape=(16, 32),
    ),
    "small": SizePreset(
        "small", n_containers=12, n_cells=30, dg_repeats=6, dg_blanks=8, sg_repeats=6,
        ns_repeats=10,
        lsn_frames={"locally_sparse_noise": 3000, "locally_sparse_noise_4deg": 2000,
                    "locally_sparse_noise_8deg": 1000},
        movie_frames={"natural_movie_one": 300, "natural_movie_two": 300,
                      "natural_movie_three": 600},
        movie_repeats={"natural_movie_one": 10, "natural_movie_two": 10, "natural_movie_three": 5},
        spont_frames=1800, ns_shape=(92, 117), movie_shape=(38, 76),
    ),
    # For comparing cell types (brainobs.synth.generate_comparison_observatory): many
    # drifting-grating repeats, so that a cell's preferred condition has enough running and
    # still trials for run_mod_dg; every other stimulus as short as in "tiny".
    "compare": SizePreset(
        "compare", n_containers=12, n_cells=30, dg_repeats=12, dg_blanks=8, sg_repeats=1,
        ns_repeats=4,
        lsn_frames={"locally_sparse_noise": 900, "locally_sparse_noise_4deg": 600,
                    "locally_sparse_noise_8deg": 300},
        movie_frames={"natural_movie_one": 60, "natural_movie_two": 60,
                      "natural_movie_three": 60},
        movie_repeats={"natural_movie_one": 10, "natural_movie_two": 10, "natural_movie_three": 5},
        spont_frames=300, ns_shape=(46, 58), movie_shape=(16, 32),
    ),
    "full": SizePreset(
        "full", n_containers=1, n_cells=200, dg_repeats=15, dg_blanks=30, sg_repeats=50,
        ns_repeats=50,
        lsn_frames={k: vocab.TEMPLATE_SHAPES[k][0] for k in
                    ("locally_sparse_noise", "locally_sparse_noise_4deg",
                     "locally_sparse_noise_8deg")},
        movie_frames={k: vocab.TEMPLATE_SHAPES[k][0] for k in vocab.MOVIE_STIMULI},
        movie_repeats={"natural_movie_one": 10, "natural_movie_two": 10,
                       "natural_movie_three": 5},
        spont_frames=8880,
        ns_shape=vocab.TEMPLATE_SHAPES["natural_scenes"][1:],
        movie_shape=vocab.TEMPLATE_SHAPES["natural_movie_one"][1:],
    ),
}


@dataclass
class Presentation:
    """Rows of one stimulus in one session (all its blocks), sorted by start frame.

    ``values`` holds the condition per row: DG (temporal_frequency, orientation, blank_sweep),
    SG (orientation, spatial_frequency, phase) with NaN for blanks, or the template frame
    index (natural scenes: -1 = blank) for indexed stimuli; None for spontaneous.
    """

    name: str
    start: np.ndarray
    end: np.ndarray
    values: np.ndarray | None


def _split(n: int, parts: int) -> list[int]:
    base, extra = divmod(n, parts)
    return [base + (i < extra) for i in range(parts)]


def _flash_times(n: int, offset: int) -> tuple[np.ndarray, np.ndarray, int]:
    edges = offset + np.floor(np.arange(n + 1) * FLASH_FRAMES).astype(np.int64)
    return edges[:-1], edges[1:], int(edges[-1])


def _dg_conditions(p: SizePreset, rng: np.random.Generator) -> np.ndarray:
    tf, ori = np.meshgrid(vocab.DG_TEMPORAL_FREQUENCIES, vocab.DG_DIRECTIONS, indexing="ij")
    cond = np.column_stack([tf.ravel(), ori.ravel(), np.zeros(tf.size)])
    rows = np.repeat(cond, p.dg_repeats, axis=0)
    blanks = np.tile([np.nan, np.nan, 1.0], (p.dg_blanks, 1))
    rows = np.vstack([rows, blanks])
    return rows[rng.permutation(len(rows))]


def _sg_conditions(p: SizePreset, rng: np.random.Generator) -> np.ndarray:
    o, s, ph = np.meshgrid(vocab.SG_ORIENTATIONS, vocab.SG_SPATIAL_FREQUENCIES, vocab.SG_PHASES,
                           indexing="ij")
    cond = np.column_stack([o.ravel(), s.ravel(), ph.ravel()])
    cond = np.vstack([cond, [np.nan, np.nan, np.nan]])  # blank is one more condition
    rows = np.repeat(cond, p.sg_repeats, axis=0)
    return rows[rng.permutation(len(rows))]


def _ns_conditions(p: SizePreset, rng: np.random.Generator) -> np.ndarray:
    cond = np.arange(-1, vocab.N_NATURAL_SCENES)  # -1 = blank
    rows = np.repeat(cond, p.ns_repeats)
    return rows[rng.permutation(len(rows))]


def build_schedule(session_type: str, p: SizePreset, rng: np.random.Generator
                   ) -> tuple[dict[str, Presentation], int]:
    """Expand a session type into presentation tables; return (tables, n_frames).

    Examples
    --------
    >>> tables, n = build_schedule("three_session_A", SIZES["tiny"], np.random.default_rng(0))
    >>> sorted(tables)
    ['drifting_gratings', 'natural_movie_one', 'natural_movie_three', 'spontaneous']
    """
    order = BLOCK_ORDER[session_type]
    n_blocks = {s: order.count(s) for s in dict.fromkeys(order)}  # ordered: no hash randomness
    # Conditions of all blocks, randomized, then dealt out block by block.
    pending: dict[str, list[np.ndarray]] = {}
    vals: np.ndarray | None
    for stim, nb in n_blocks.items():
        if stim == "drifting_gratings":
            vals = _dg_conditions(p, rng)
        elif stim == "static_gratings":
            vals = _sg_conditions(p, rng)
        elif stim == "natural_scenes":
            vals = _ns_conditions(p, rng)
        elif stim.startswith("locally_sparse_noise"):
            vals = np.arange(p.lsn_frames[stim])  # template frames are shown in order
        elif stim in vocab.MOVIE_STIMULI:
            one = np.arange(p.movie_frames[stim])
            vals = np.tile(one, p.movie_repeats[stim] * nb)
        else:
            vals = np.zeros(p.spont_frames)
        sizes = _split(len(vals), nb)
        pending[stim] = list(np.split(vals, np.cumsum(sizes)[:-1]))

    starts: dict[str, list[np.ndarray]] = {s: [] for s in n_blocks}
    ends: dict[str, list[np.ndarray]] = {s: [] for s in n_blocks}
    values: dict[str, list[np.ndarray]] = {s: [] for s in n_blocks}
    t = LEAD_FRAMES
    for stim in order:
        vals = pending[stim].pop(0)
        n = len(vals)
        if stim == "drifting_gratings":
            st = t + np.arange(n) * (DG_ON_FRAMES + DG_OFF_FRAMES)
            en = st + DG_ON_FRAMES
            t = int(en[-1]) + DG_OFF_FRAMES
        elif stim in vocab.MOVIE_STIMULI:
            st = t + np.arange(n)
            en = st + 1
            t = int(en[-1])
        elif stim == "spontaneous":
            st, en = np.array([t]), np.array([t + n])
            t += n
            vals = None
        else:
            st, en, t = _flash_times(n, t)
        starts[stim].append(st)
        ends[stim].append(en)
        if vals is not None:
            values[stim].append(vals)
        t += BLOCK_GAP_FRAMES
    tables = {}
    for stim in n_blocks:
        all_vals = np.concatenate(values[stim]) if values[stim] else None
        tables[stim] = Presentation(
            stim, np.concatenate(starts[stim]).astype(np.int64),
            np.concatenate(ends[stim]).astype(np.int64), all_vals,
        )
    return tables, t - BLOCK_GAP_FRAMES + LEAD_FRAMES
