"""Matplotlib figures. Every function draws into the ``ax`` it is given and returns it.

Nothing here calls ``plt.show()`` or saves files; callers (CLI, reports, notebooks) do.
"""

from brainobs.plot.images import max_projection, stimulus_image
from brainobs.plot.responses import preferred_image_histogram
from brainobs.plot.traces import stacked_traces

__all__ = ["max_projection", "preferred_image_histogram", "stacked_traces", "stimulus_image"]
