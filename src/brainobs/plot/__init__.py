"""Matplotlib figures. Every function draws into the ``ax`` it is given and returns it.

Nothing here calls ``plt.show()`` or saves files; callers (CLI, reports, notebooks) do.
Colours come from :mod:`brainobs.plot.style` (Okabe–Ito, colour-blind safe); mark figures
of synthetic data with :func:`synthetic_badge`.
"""

from brainobs.plot.comparison import comparison, fraction_by_group
from brainobs.plot.images import max_projection, stimulus_image
from brainobs.plot.population import (
    class_composition,
    decoding_accuracy,
    fraction_heatmap,
    metric_by_group,
)
from brainobs.plot.responses import (
    direction_tuning,
    dsi_histogram,
    preferred_image_histogram,
    receptive_field,
)
from brainobs.plot.style import PALETTE, despine, group_colors, synthetic_badge
from brainobs.plot.traces import running_speed, stacked_traces, trial_raster
from brainobs.plot.tuning import (
    direction_tuning_polar,
    image_responses,
    on_off_maps,
    orientation_sf_heatmap,
    tf_tuning,
)

__all__ = [
    "PALETTE", "class_composition", "comparison", "fraction_by_group", "decoding_accuracy", "despine", "direction_tuning",
    "direction_tuning_polar", "dsi_histogram", "fraction_heatmap", "group_colors",
    "image_responses", "max_projection", "metric_by_group", "on_off_maps",
    "orientation_sf_heatmap", "preferred_image_histogram", "receptive_field", "running_speed",
    "stacked_traces", "stimulus_image", "synthetic_badge", "tf_tuning", "trial_raster",
]
