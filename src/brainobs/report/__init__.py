"""HTML reports: the tutorial story and the cell-type comparison for one area × Cre line.

>>> from brainobs.report import build_report                     # doctest: +SKIP
>>> report = build_report(open_observatory(), "VISp", "Rorb-IRES2-Cre")  # doctest: +SKIP
>>> report.save("report.html")                                   # doctest: +SKIP
"""

from brainobs.report.build import build_report
from brainobs.report.html import Report, Section

__all__ = ["Report", "Section", "build_report"]
