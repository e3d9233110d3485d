"""Synthetic observatories for checking comparisons of cell types against known truth.

Two packaged configurations (TOML files next to this module):

- :func:`planted_config` — four Cre lines differ from the others by design, each in exactly one
  parameter (:data:`PLANTED_DIFFERENCES`); everything else is identical across lines.
- :func:`null_config` — every Cre line has the same distributions: no differences at all.

:func:`generate_comparison_observatory` writes either one, with sizes chosen so that every
planted difference is found in the computed drifting-grating metrics (Mann–Whitney / Fisher
against the other lines pooled, Holm-corrected) within about a minute of generation and
analysis; ``benchmarks/planted_truth.py`` measures the detection and false-positive rates over
seeds.

>>> from brainobs.synth import generate_comparison_observatory, read_ground_truth
>>> d = generate_comparison_observatory("/tmp/planted", kind="planted")  # doctest: +SKIP
>>> read_ground_truth(d).groupby("cre_line").responsive_dg.mean()      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path

__all__ = [
    "COMPARISON_AREAS",
    "COMPARISON_CRE_LINES",
    "COMPARISON_REFERENCE",
    "PLANTED_CRE_LINES",
    "PLANTED_DIFFERENCES",
    "PlantedDifference",
    "generate_comparison_observatory",
    "null_config",
    "planted_config",
]


@dataclass(frozen=True)
class PlantedDifference:
    """One difference planted in :func:`planted_config`.

    Attributes
    ----------
    cre_line : str
        The Cre line that carries it (full name).
    parameters : tuple of str
        The config keys of that line that differ from the reference lines.
    metric : str
        The computed cell-table quantity that shows it: a column name, ``"abs(run_mod_dg)"``,
        or the boolean expression ``"p_dg < 0.05"`` (a fraction of cells).
    sign : int
        +1 when the line's value is higher than the other lines', -1 when lower.
    cells : str
        ``"responsive"`` (compare cells with ``p_dg < 0.05`` only) or ``"all"``.
    description : str
    """

    cre_line: str
    parameters: tuple[str, ...]
    metric: str
    sign: int
    cells: str
    description: str


PLANTED_DIFFERENCES: tuple[PlantedDifference, ...] = (
    PlantedDifference("Rorb-IRES2-Cre", ("dsi_dg",), "dsi_dg", +1, "responsive",
                      "strongly direction selective (true DSI ~ Beta(8, 2), mean 0.8, vs 0.33)"),
    PlantedDifference("Vip-IRES-Cre", ("frac_responsive", "rf_probability"), "p_dg < 0.05", -1,
                      "all", "barely responsive (10 % of cells respond to each stimulus, vs "
                      "45-60 %)"),
    PlantedDifference("Scnn1a-Tg3-Cre", ("pref_tf_weights",), "pref_tf_dg", +1, "responsive",
                      "prefers high temporal frequencies (8 and 15 Hz only)"),
    PlantedDifference("Sst-IRES-Cre", ("run_mod",), "abs(run_mod_dg)", +1, "responsive",
                      "strong running modulation of either sign (log-gain sd 1.8 vs 0.25)"),
)
"""The four planted differences of :func:`planted_config`, one per Cre line."""

PLANTED_CRE_LINES: tuple[str, ...] = tuple(d.cre_line for d in PLANTED_DIFFERENCES)
"""The four Cre lines that carry a planted difference."""

COMPARISON_REFERENCE = "Cux2-CreERT2"
"""A Cre line without a planted difference (any line not in :data:`PLANTED_CRE_LINES` is one)."""

COMPARISON_CRE_LINES: tuple[str, ...] = (*PLANTED_CRE_LINES, COMPARISON_REFERENCE)
"""The Cre lines of :func:`generate_comparison_observatory`: the four planted ones and the
reference, so that each planted line can also be compared with a line that has no plant."""

COMPARISON_AREAS: tuple[str, ...] = ("VISp",)
"""Areas of :func:`generate_comparison_observatory`: one, so the area modifiers are shared."""


def _packaged(name: str) -> Path:
    return Path(str(resources.files("brainobs.synth").joinpath(name)))


def planted_config() -> Path:
    """Path of the packaged planted configuration (``planted.toml``).

    Four Cre lines differ by design from the reference (every other line), each in one
    parameter — Rorb-IRES2-Cre: strongly direction selective (``dsi_dg``); Vip-IRES-Cre:
    barely responsive (``frac_responsive`` 10 % for every stimulus, ``rf_probability`` 10 %);
    Scnn1a-Tg3-Cre: prefers 8/15 Hz (``pref_tf_weights``); Sst-IRES-Cre: strong running
    modulation of either sign (``run_mod``). Amplitude, noise, depth (275 µm), reporter
    (Ai148) and the running schedule are the same for every line. See
    :data:`PLANTED_DIFFERENCES`.

    Returns
    -------
    pathlib.Path
        Pass it as ``config=`` to :func:`~brainobs.synth.generate_observatory` or
        :func:`~brainobs.synth.load_config` (or ``brainobs synth --config``).

    Examples
    --------
    >>> from brainobs.synth import load_config
    >>> cfg = load_config(planted_config())
    >>> cfg["cre_lines"]["Rorb-IRES2-Cre"]["dsi_dg"], cfg["cre_lines"]["Cux2-CreERT2"]["dsi_dg"]
    ([8.0, 2.0], [2.0, 4.0])
    """
    return _packaged("planted.toml")


def null_config() -> Path:
    """Path of the packaged null configuration (``null.toml``): every Cre line identical.

    The reference values of :func:`planted_config` for every Cre line, with the same recording
    parameters, so a comparison of Cre lines should find no difference.

    Examples
    --------
    >>> from brainobs.synth import load_config
    >>> lines = load_config(null_config())["cre_lines"]
    >>> all(t == lines["Sst-IRES-Cre"] for t in lines.values())
    True
    """
    return _packaged("null.toml")


def generate_comparison_observatory(
    out_dir: str | PathLike,
    kind: str = "planted",
    seed: int = 0,
    *,
    cre_lines: list[str] | tuple[str, ...] = COMPARISON_CRE_LINES,
    containers_per_cre_line: int = 3,
    areas: list[str] | tuple[str, ...] = COMPARISON_AREAS,
    size: str = "compare",
    progress: Callable[[int, int, str], None] | None = None,
    overwrite: bool = False,
    workers: int | None = None,
) -> Path:
    """Write a planted or null synthetic observatory for comparing Cre lines.

    Defaults: the four planted Cre lines and the reference (:data:`COMPARISON_CRE_LINES`)
    × 3 containers, all in VISp at 275 µm, size ``"compare"`` (25 cells per container, 12
    repeats of every drifting-grating condition, running about half of the time): 15
    containers, 375 cells. On the 2-core development machine: 16 s to generate (27 s with
    ``workers=1``) and 5-7 s to analyze the drifting gratings of every container
    (``analyze_catalog_container(..., families=["drifting_gratings"])`` or
    ``brainobs.parallel.analyze_missing``).

    Parameters
    ----------
    out_dir : str or path
        Target directory (see :func:`~brainobs.synth.generate_observatory`).
    kind : {"planted", "null"}
        :func:`planted_config` or :func:`null_config`.
    seed : int
    cre_lines, containers_per_cre_line, areas, size, progress, overwrite, workers
        Passed to :func:`~brainobs.synth.generate_observatory`.

    Returns
    -------
    pathlib.Path
        The observatory's directory.

    Examples
    --------
    >>> import brainobs as bo
    >>> from brainobs.metrics import analyze_catalog_container
    >>> d = generate_comparison_observatory("/tmp/planted", "planted", seed=0)  # doctest: +SKIP
    >>> obs = bo.open_observatory(d)                                            # doctest: +SKIP
    >>> for cid in obs.containers()["id"]:                                      # doctest: +SKIP
    ...     analyze_catalog_container(obs, int(cid), families=["drifting_gratings"])
    """
    from brainobs.synth.observatory import generate_observatory

    configs = {"planted": planted_config, "null": null_config}
    if kind not in configs:
        from brainobs.errors import UnknownValueError

        raise UnknownValueError(kind, list(configs), kind="comparison observatory kind")
    return generate_observatory(
        out_dir, size=size, seed=seed, config=configs[kind](), cre_lines=list(cre_lines),
        containers_per_cre_line=containers_per_cre_line, areas=list(areas), progress=progress,
        overwrite=overwrite, workers=workers,
    )
