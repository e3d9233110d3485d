"""Matplotlib figures. Every function draws into the ``ax`` it is given and returns it.

Nothing here calls ``plt.show()`` or saves files; callers (CLI, reports, notebooks) do.
"""

from brainobs.plot.images import max_projection, stimulus_image
from brainobs.plot.responses import direction_tuning, preferred_image_histogram, receptive_field
from brainobs.plot.traces import stacked_traces

__all__ = [
    "direction_tuning", "max_projection", "preferred_image_histogram", "receptive_field",
    "stacked_traces", "stimulus_image",
]
