"""Compare cell types and areas across the observatory (filled in by the population work)."""
