"""A figure beside its baseline, percentiles, and the table they are printed in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Figure:
    scenario: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    target: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return round(self.value / self.baseline, 3)


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def print_table(figures: list[Figure]) -> None:
    header = f"{'scenario':<26} {'metric':<36} {'value':>10} {'unit':<5} {'baseline':>10} {'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for f in figures:
        baseline = "" if f.baseline is None else f"{f.baseline:g}"
        ratio = "" if f.ratio is None else f"{f.ratio:g}"
        print(f"{f.scenario:<26} {f.metric:<36} {f.value:>10g} {f.unit:<5} {baseline:>10} {ratio:>7}  {f.target or ''}")
