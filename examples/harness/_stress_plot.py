"""The stress plot: failed creates and throughput against parallelism, one line per engine (and retries)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a stage laptop's CI or over SSH

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from examples.harness._stress_results import BASELINE_ENGINE, Group


def plot(groups: Sequence[Group], path: Path, title: str) -> Path:
    """Write a PNG with two panels sharing the parallelism axis (log scale): failed resources (worst
    repeat) and resources per second (median); terraform_data is drawn dashed as the reference."""
    series: dict[str, list[Group]] = {}
    for group in groups:
        series.setdefault(group.label, []).append(group)

    engines = list(dict.fromkeys(group.engine for group in groups if group.engine != BASELINE_ENGINE))
    colors = {engine: f"C{index}" for index, engine in enumerate(engines)} | {BASELINE_ENGINE: "grey"}
    figure, (failures_axis, throughput_axis) = plt.subplots(1, 2, figsize=(11, 4.8), constrained_layout=True)
    for label, members in series.items():
        members = sorted(members, key=lambda group: group.parallelism)
        parallelism = [group.parallelism for group in members]
        is_baseline = members[0].engine == BASELINE_ENGINE
        # Colour tells the engine; a dashed line with square markers tells that the provider retried.
        retried = bool(members[0].retries)
        style = {
            "color": colors[members[0].engine],
            "linestyle": "--" if is_baseline or retried else "-",
            "marker": "s" if retried else "o",
        }
        if not is_baseline:
            failures_axis.plot(parallelism, [group.failed for group in members], label=label, **style)
        throughput_axis.plot(
            parallelism, [group.resources_per_second for group in members], label=label, **style
        )

    measured = sorted({group.parallelism for group in groups})
    for axis in (failures_axis, throughput_axis):
        axis.set_xscale("log")
        axis.set_xticks(measured, [str(value) for value in measured])
        axis.minorticks_off()
        axis.set_xlabel("terraform -parallelism")
        axis.grid(True, which="both", alpha=0.3)
    failures_axis.set_ylabel("failed resources (worst repeat)")
    failures_axis.set_ylim(bottom=0, top=max(1, *(group.failed for group in groups)) * 1.1)
    failures_axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    failures_axis.set_title("Failures")
    throughput_axis.set_ylabel("resources created per second (median)")
    throughput_axis.set_ylim(bottom=0)
    throughput_axis.set_title("Throughput")
    # One legend for both panels, below them, so no line is hidden behind it.
    handles, labels = throughput_axis.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=4, fontsize="small", frameon=False)
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
