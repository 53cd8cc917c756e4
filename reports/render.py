"""The lead report rendered: display values, CSV long rows, markdown and the PNG chart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from models.settings import get_settings
from models.tables import utcnow
from reports.figures import ALL, STAGES, Report, Section, sections


def display(column: str, value: Any) -> str:
    """A figure as people read it: rates in percent, hours and ratios with two decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if column.endswith("rate"):
            return f"{value:.1%}"
        return f"{value:.2f}" if column != "gini" else f"{value:.3f}"
    return str(value)


def long_rows(report: Report) -> list[dict[str, Any]]:
    """The CSV format: one line per section, row and figure (values raw; None empty)."""
    lines = []
    for section in sections(report):
        for row in section.rows:
            key = "|".join(str(row[k]) for k in section.keys)
            for metric, value in row.items():
                if metric not in section.keys:
                    lines.append(
                        {
                            "section": section.name,
                            "key": key,
                            "metric": metric,
                            "value": "" if value is None else value,
                        }
                    )
    return lines


def empty_message(report: Report) -> str:
    if report.since or report.channel:
        return f"No leads in this scope ({report.scope}): nothing to report."
    return (
        "No leads yet: nothing to report. Run a channel first "
        "(medleads forms|webinar|outbound FILE)."
    )


def _markdown_table(section: Section) -> list[str]:
    if not section.rows:
        return ["_none_"]
    columns = list(section.rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in section.rows:
        cells = [display(c, row.get(c)).replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def report_markdown(report: Report, chart: str | None = None) -> str:
    lines = [
        "# medleads report",
        "",
        f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC; scope: {report.scope}.",
        "",
    ]
    if report.leads == 0:
        return "\n".join([*lines, empty_message(report), ""])
    if chart:
        lines += [f"![Funnel by channel and status by band]({chart})", ""]
    for section in sections(report):
        lines += [f"## {section.title}", "", f"_{section.note}_", ""]
        lines += [*_markdown_table(section), ""]
    return "\n".join(lines)


STATUS_COLORS: dict[str, str] = {
    "sql": "#1b7837",
    "opportunity": "#00441b",
    "mql": "#5aae61",
    "mql_no_timeline": "#a6dba0",
    "in_review": "#f1a340",
    "nurture": "#92c5de",
    "new": "#d9d9d9",
    "disqualified": "#b2182b",
    "closed_lost": "#6a3d9a",
}
DARK_STATUSES = frozenset({"sql", "opportunity", "disqualified", "closed_lost"})
CHANNEL_COLORS: tuple[str, ...] = ("#2166ac", "#d6604d", "#4d9221", "#8073ac", "#878787")


def render_chart(report: Report, path: Path) -> Path | None:
    """A PNG: the funnel by channel (left) and status by band (right); None when no leads."""
    if report.leads == 0:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(14, 6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    funnel_axes, band_axes = figure.subplots(1, 2, width_ratios=(1, 1.15))
    channels = [f for f in report.funnel if f.campaign == ALL and f.channel != ALL]
    width = 0.8 / max(1, len(channels))
    for i, row in enumerate(channels):
        values = [row.new, row.mql, row.sql, row.opportunity]
        xs = [s + (i - (len(channels) - 1) / 2) * width for s in range(len(STAGES))]
        bars = funnel_axes.bar(
            xs, values, width * 0.95, label=row.channel, color=CHANNEL_COLORS[i % 5]
        )
        funnel_axes.bar_label(bars, padding=2, fontsize=9)
    funnel_axes.set_xticks(range(len(STAGES)), list(STAGES))
    funnel_axes.set_ylabel("leads that reached the stage")
    funnel_axes.set_title("Funnel by channel", fontsize=13, loc="left")
    funnel_axes.legend(title="channel", frameon=False)
    funnel_axes.spines[["top", "right"]].set_visible(False)
    funnel_axes.margins(y=0.12)
    funnel_axes.yaxis.set_major_locator(MaxNLocator(integer=True))

    cells = list(report.bands.items())[::-1]
    labels = [f"fit {fit} / intent {intent}" for (fit, intent), _ in cells]
    statuses = [s for s in STATUS_COLORS if any(s in cell for _, cell in cells)]
    statuses += sorted({s for _, cell in cells for s in cell} - set(statuses))
    left = [0] * len(cells)
    for status in statuses:
        values = [cell.get(status, 0) for _, cell in cells]
        bars = band_axes.barh(
            labels, values, left=left, label=status, color=STATUS_COLORS.get(status, "#bababa")
        )
        band_axes.bar_label(
            bars,
            labels=[str(v) if v else "" for v in values],
            label_type="center",
            fontsize=9,
            color="white" if status in DARK_STATUSES else "black",
        )
        left = [a + b for a, b in zip(left, values, strict=True)]
    band_axes.set_xlabel("leads")
    band_axes.set_title("Status by score band", fontsize=13, loc="left")
    band_axes.legend(
        title="status", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9
    )
    band_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    band_axes.spines[["top", "right"]].set_visible(False)
    figure.suptitle(
        f"medleads: {report.leads} leads, {report.scope} "
        f"(generated {report.generated_at:%Y-%m-%d %H:%M} UTC)",
        fontsize=12,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def default_chart_path(now: dt.datetime | None = None) -> Path:
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%S")
    return get_settings().data_dir / "reports" / f"report-{stamp}.png"
