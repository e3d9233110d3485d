"""Compare cell types and areas: what does each Cre line do, and how does it differ?

- :func:`cell_table` / :func:`from_table` — the pooled tidy table (one row per cell, Cre
  line, area, depth, layer, container, mouse, every metric);
- :func:`add_responsiveness`, :func:`functional_classes`, :func:`class_composition` —
  responsiveness per stimulus by a named rule, and functional classes;
- :func:`compare` — per-group summaries with hierarchical-bootstrap intervals, omnibus and
  Holm-corrected pairwise tests, effect sizes, coverage;
- decoding and role profiles (see their modules).
"""

from brainobs.population import decoding
from brainobs.population.compare import Comparison, ComparisonError, compare, used_cells
from brainobs.population.describe import describe, preference_distribution
from brainobs.population.profile import RoleProfile, role_profile
from brainobs.population.responsive import (
    FAMILIES,
    add_responsiveness,
    class_composition,
    family_of,
    functional_classes,
    rule_for,
)
from brainobs.population.table import cell_table, from_table, layer_from_depth

__all__ = [
    "FAMILIES", "Comparison", "decoding", "ComparisonError", "RoleProfile", "add_responsiveness", "cell_table",
    "class_composition", "compare", "family_of", "from_table", "functional_classes",
    "describe", "layer_from_depth", "preference_distribution", "role_profile", "rule_for",
    "used_cells",
]
