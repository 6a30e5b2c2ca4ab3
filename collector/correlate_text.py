"""A correlation (``correlate``) as the CLI prints it."""

from __future__ import annotations

import math

from .correlate import Correlation, significant


def render_text(found: Correlation, *, max_values: int = 5) -> str:
    """The correlation as the CLI prints it: the verdict, then each dimension that stands out with its
    values' shares (failed vs succeeded), then the dimensions that do not."""
    lines = [f"What the failures have in common ({found.failed} failed, {found.succeeded} successful attempts; "
             f"{found.values_tested} values tested)", found.verdict]
    quiet = []
    for dimension in found.dimensions:
        if not dimension.standing_out:
            quiet.append(dimension.label)
            continue
        lines.append("")
        lines.append(f"  {dimension.label:<34} {'failed':>7} {'succeeded':>10} {'lift':>6}  p (corrected)")
        for value in dimension.values[:max(max_values, len(dimension.standing_out))]:
            mark = "*" if value.stands_out else " "
            lift = "inf" if math.isinf(value.lift) else f"{value.lift:.1f}"
            lines.append(f"  {mark} {value.value[:32]:<32} {value.failed_share:>7.0%} {value.succeeded_share:>10.0%} "
                         f"{lift:>6}  {significant(value.p_adjusted)}")
    if quiet and found.standing_out:
        lines.append("")
        lines.append("Nothing stands out in: " + ", ".join(quiet) + ".")
    return "\n".join(lines)
