"""Fixed vocabulary of the Visual Coding 2P dataset: Cre lines, areas, sessions, stimuli.

These are facts about the released dataset; they are the valid choices that error
messages list and the schedule the synthetic observatory follows.
"""

from __future__ import annotations

from collections.abc import Iterable

# The 13 Cre driver lines of the final release (full names, as in ``tld1_name``).
CRE_LINES: tuple[str, ...] = (
    "Cux2-CreERT2",
    "Emx1-IRES-Cre",
    "Fezf2-CreER",
    "Nr5a1-Cre",
    "Ntsr1-Cre_GN220",
    "Pvalb-IRES-Cre",
    "Rbp4-Cre_KL100",
    "Rorb-IRES2-Cre",
    "Scnn1a-Tg3-Cre",
    "Slc17a7-IRES2-Cre",
    "Sst-IRES-Cre",
    "Tlx3-Cre_PL56",
    "Vip-IRES-Cre",
)

# The six targeted visual areas.
AREAS: tuple[str, ...] = ("VISal", "VISam", "VISl", "VISp", "VISpm", "VISrl")

# The names people type for the areas (matched case-insensitively): V1 is the primary visual
# cortex, the others the usual abbreviations of the higher visual areas. A Cre line may
# likewise be given by its gene name ("Cux2", "Sst") or any leading part of its name that
# ends at a "-" or "_" ("Ntsr1-Cre"), when only one Cre line fits.
AREA_ALIASES: dict[str, str] = {
    "V1": "VISp", "LM": "VISl", "AL": "VISal", "PM": "VISpm", "AM": "VISam", "RL": "VISrl",
}  # fmt: skip

REPORTER_LINES: tuple[str, ...] = (
    "Ai148(TIT2L-GC6f-ICL-tTA2)",
    "Ai162(TIT2L-GC6s-ICL-tTA2)",
    "Ai93(TITL-GCaMP6f)",
    "Ai94(TITL-GCaMP6s)",
)

# Indicator by reporter line (drives calcium kinetics in the synthetic data).
REPORTER_INDICATOR: dict[str, str] = {
    "Ai93(TITL-GCaMP6f)": "GCaMP6f",
    "Ai148(TIT2L-GC6f-ICL-tTA2)": "GCaMP6f",
    "Ai94(TITL-GCaMP6s)": "GCaMP6s",
    "Ai162(TIT2L-GC6s-ICL-tTA2)": "GCaMP6s",
}

SESSION_TYPES: tuple[str, ...] = (
    "three_session_A",
    "three_session_B",
    "three_session_C",
    "three_session_C2",
)

# Stimuli shown in each session type (the catalog's ``stimuli=`` filter uses this).
SESSION_STIMULI: dict[str, tuple[str, ...]] = {
    "three_session_A": ("drifting_gratings", "natural_movie_one", "natural_movie_three", "spontaneous"),
    "three_session_B": ("static_gratings", "natural_scenes", "natural_movie_one", "spontaneous"),
    "three_session_C": ("locally_sparse_noise", "natural_movie_one", "natural_movie_two", "spontaneous"),
    "three_session_C2": (
        "locally_sparse_noise_4deg",
        "locally_sparse_noise_8deg",
        "natural_movie_one",
        "natural_movie_two",
        "spontaneous",
    ),
}

STIMULI: tuple[str, ...] = tuple(sorted({s for v in SESSION_STIMULI.values() for s in v}))

# Kind of table each stimulus has in the NWB file.
FEATURE_STIMULI = ("drifting_gratings", "static_gratings")  # AbstractFeatureSeries
INDEXED_STIMULI = (
    "natural_scenes",
    "natural_movie_one",
    "natural_movie_two",
    "natural_movie_three",
    "locally_sparse_noise",
    "locally_sparse_noise_4deg",
    "locally_sparse_noise_8deg",
)  # IndexSeries: one template frame index per row
MOVIE_STIMULI = ("natural_movie_one", "natural_movie_two", "natural_movie_three")
INTERVAL_STIMULI = ("spontaneous",)  # IntervalSeries

# Stimulus parameters (facts of the released stimulus set).
DG_DIRECTIONS = (0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0)
DG_TEMPORAL_FREQUENCIES = (1.0, 2.0, 4.0, 8.0, 15.0)
SG_ORIENTATIONS = (0.0, 30.0, 60.0, 90.0, 120.0, 150.0)
SG_SPATIAL_FREQUENCIES = (0.02, 0.04, 0.08, 0.16, 0.32)
SG_PHASES = (0.0, 0.25, 0.5, 0.75)
N_NATURAL_SCENES = 118

# Template shapes (frames, rows, cols) of the released files.
TEMPLATE_SHAPES: dict[str, tuple[int, int, int]] = {
    "natural_scenes": (118, 918, 1174),
    "natural_movie_one": (900, 304, 608),
    "natural_movie_two": (900, 304, 608),
    "natural_movie_three": (3600, 304, 608),
    "locally_sparse_noise": (8880, 16, 28),
    "locally_sparse_noise_4deg": (9000, 16, 28),
    "locally_sparse_noise_8deg": (9000, 8, 14),
}

IMAGING_SHAPE = (512, 512)  # pixels of the max projection and ROI masks

# Columns of the published cell table (the API's ApiCamCellMetric, AllenSDK's
# cell_specimens.json): identity columns, then the metric columns. The real table also has
# thumbnail-image path columns (listed in stimulus_mappings.json), which are not data.
CELL_ID_COLUMNS: tuple[str, ...] = (
    "cell_specimen_id", "experiment_container_id", "specimen_id", "area", "tld1_id", "tld1_name",
    "tld2_id", "tld2_name", "tlr1_id", "tlr1_name", "imaging_depth",
    "failed_experiment_container", "donor_full_genotype", "all_stim",
)
CELL_METRIC_COLUMNS: tuple[str, ...] = (
    "osi_dg", "dsi_dg", "pref_dir_dg", "pref_tf_dg", "p_dg", "osi_sg", "pref_ori_sg",
    "pref_sf_sg", "pref_phase_sg", "p_sg", "time_to_peak_sg", "pref_image_ns", "time_to_peak_ns",
    "p_ns", "g_dsi_dg", "g_osi_dg", "g_osi_sg", "image_sel_ns", "p_run_mod_dg", "p_run_mod_ns",
    "p_run_mod_sg", "peak_dff_dg", "peak_dff_ns", "peak_dff_sg", "reliability_dg",
    "reliability_nm1_a", "reliability_nm1_b", "reliability_nm1_c", "reliability_nm2",
    "reliability_nm3", "reliability_ns", "reliability_sg", "rf_area_off_lsn", "rf_area_on_lsn",
    "rf_center_off_x_lsn", "rf_center_off_y_lsn", "rf_center_on_x_lsn", "rf_center_on_y_lsn",
    "rf_chi2_lsn", "rf_distance_lsn", "rf_overlap_index_lsn", "run_mod_dg", "run_mod_ns",
    "run_mod_sg", "sfdi_sg", "tfdi_dg",
)

# Metric families: the stimulus family each group of cell-table columns comes from.
METRIC_FAMILIES: tuple[str, ...] = (
    "drifting_gratings",
    "static_gratings",
    "natural_scenes",
    "natural_movies",
    "locally_sparse_noise",
)

# Stimuli whose presence in a session makes a family computable there.
FAMILY_STIMULI: dict[str, tuple[str, ...]] = {
    "drifting_gratings": ("drifting_gratings",),
    "static_gratings": ("static_gratings",),
    "natural_scenes": ("natural_scenes",),
    "natural_movies": MOVIE_STIMULI,
    "locally_sparse_noise": (
        "locally_sparse_noise",
        "locally_sparse_noise_4deg",
        "locally_sparse_noise_8deg",
    ),
}

# Key columns of each family: a container "has" a family's metrics when at least one of
# its cells has a non-null value in at least one of these columns (published or computed).
FAMILY_COLUMNS: dict[str, tuple[str, ...]] = {
    "drifting_gratings": ("p_dg",),
    "static_gratings": ("p_sg",),
    "natural_scenes": ("p_ns",),
    "natural_movies": (
        "reliability_nm1_a",
        "reliability_nm1_b",
        "reliability_nm1_c",
        "reliability_nm2",
        "reliability_nm3",
    ),
    "locally_sparse_noise": ("rf_chi2_lsn",),
}

# Name token that marks a column as one of a family's (``dsi_dg``, ``dsi_dg_ci_low``, ...).
_FAMILY_TOKENS: dict[str, str] = {
    "dg": "drifting_gratings",
    "sg": "static_gratings",
    "ns": "natural_scenes",
    "lsn": "locally_sparse_noise",
}


def metric_family(column: str) -> str | None:
    """The metric family a cell-table column belongs to, or None for other columns.

    Columns are recognised by their published suffix (``_dg``, ``_sg``, ``_ns``, ``_lsn``,
    also inside longer names such as ``dsi_dg_bounded``) and ``reliability_nm*`` for the
    natural movies.

    >>> metric_family("p_ns"), metric_family("dsi_dg_ci_low"), metric_family("reliability_nm1_b")
    ('natural_scenes', 'drifting_gratings', 'natural_movies')
    >>> metric_family("area") is None and metric_family("mean_running_speed_a") is None
    True
    """
    if column.startswith("reliability_nm"):
        return "natural_movies"
    for token in column.split("_")[1:]:
        if token in _FAMILY_TOKENS:
            return _FAMILY_TOKENS[token]
    return None


def session_families(session_types: Iterable[object]) -> list[str]:
    """Metric families computable from sessions of the given types, in family order.

    >>> session_families(["three_session_A", "three_session_B"])
    ['drifting_gratings', 'static_gratings', 'natural_scenes', 'natural_movies']
    """
    shown = {s for t in session_types for s in SESSION_STIMULI.get(str(t), ())}
    return [f for f in METRIC_FAMILIES if shown.intersection(FAMILY_STIMULI[f])]
