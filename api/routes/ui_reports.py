"""The reports page (ops and admin): the funnel, each step of a cadence, A/B variants, time to the
first touch and rep tasks on time, drawn as SVG on the server, each with its table and a CSV download.

The numbers are the JSON reports' (`persistence/reports.py`), for the period chosen on the page.
"""
from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from api import charts
from api.auth.deps import csrf_protect
from api.cadence_views import CHANNEL_NAMES
from api.deps import SessionDep
from api.routes.reports import period
from api.routes.ui import STAGES, PageRoute, _page
from persistence import cadences as cadence_store
from persistence import reports
from persistence.models import Lead

router = APIRouter(prefix="/ui/reports", tags=["ui"], include_in_schema=False, route_class=PageRoute,
                   dependencies=[Depends(csrf_protect)])
DEFAULT_DAYS = 30
RANGES = ((7, "7 days"), (30, "30 days"), (90, "90 days"))
METRIC_NAMES = {"delivered": "delivered", "replied": "replied", "positive": "positive",
                "unsubscribed": "unsubscribed", "bounced": "bounced"}
SHORT_NAMES = {"delivered": "deliv.", "replied": "replied", "positive": "positive", "unsubscribed": "unsub.",
               "bounced": "bounced"}
TASK_SEGMENTS = [charts.Segment("on_time", "done on time"), charts.Segment("late", "done late", "hatch"),
                 charts.Segment("missed", "missed (expired)", "cross"),
                 charts.Segment("open_overdue", "open, overdue", "dots"),
                 charts.Segment("open_ok", "open, not yet late")]
DayParam = Annotated[str | None, Query(max_length=10, pattern=r"^(\d{4}-\d{2}-\d{2})?$")]


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float] | None:
    """The 95% Wilson interval of a rate: how sure a rate of `successes` in `trials` is."""
    if not trials:
        return None
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:  # 2026-02-31: no such day, so no bound
        return None


class Filters:
    """The period and cadence of the page. No `since`/`until` at all: the last 30 days; empty ones:
    open-ended (all time)."""

    def __init__(self, session, since: str | None, until: str | None, cadence: str | None):
        today = datetime.now(timezone.utc).date()
        if since is None and until is None:
            since, until = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), today.isoformat()
        self.since, self.until = _day(since), _day(until)
        if self.since and self.until and self.since > self.until:
            self.since, self.until = self.until, self.since
        self.today = today
        names = [r.name for r in cadence_store.all_latest(session)]
        if cadence not in names:
            busiest = session.execute(select(Lead.cadence_name).group_by(Lead.cadence_name)
                                      .order_by(func.count().desc(), Lead.cadence_name).limit(1)).scalar()
            cadence = busiest if busiest in names else (names[0] if names else None)
        self.cadence, self.cadences = cadence, names

    @property
    def range(self) -> dict[str, datetime | None]:
        return period(self.since, self.until)

    def query(self, **over: Any) -> str:
        values = {"since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "cadence": self.cadence or "", **over}
        return urlencode(values)

    def describe(self) -> str:
        if not self.since and not self.until:
            return "all time"
        start = self.since.strftime("%d %b %Y") if self.since else "the start"
        end = self.until.strftime("%d %b %Y") if self.until else "today"
        return f"{start} – {end}"

    def slug(self) -> str:
        return f"{self.since or 'start'}-to-{self.until or 'now'}"


def filters(session: SessionDep, since: DayParam = None, until: DayParam = None,
            cadence: Annotated[str | None, Query(max_length=100)] = None) -> Filters:
    return Filters(session, since, until, cadence)


FiltersDep = Annotated[Filters, Depends(filters)]


# ---- the data of each report, as rows (the tables and the CSV files) ---------------------------
def funnel_rows(session, f: Filters) -> tuple[dict, list[dict]]:
    data = reports.funnel(session, **f.range)
    rows = [{"kind": "level", "name": "MQL", "leads": data["mql"], "rate": 1.0 if data["mql"] else None,
             "of": "all leads"},
            {"kind": "level", "name": "SAL", "leads": data["sal"], "rate": data["mql_to_sal"], "of": "MQL"},
            {"kind": "level", "name": "SQL", "leads": data["sql"], "rate": data["sal_to_sql"], "of": "SAL"}]
    rows += [{"kind": "stage", "name": s, "leads": data["stages"].get(s, 0),
              "rate": round(data["stages"].get(s, 0) / data["leads"], 4) if data["leads"] else None, "of": "all leads"}
             for s in STAGES]
    return data, rows


def variant_rows(session, f: Filters) -> list[dict]:
    rows = reports.variants(session, f.cadence, **f.range) if f.cadence else []
    for row in rows:
        interval = wilson(row["replied"], row["sent"])
        row["low"], row["high"] = (round(interval[0], 4), round(interval[1], 4)) if interval else (None, None)
    return rows


def report_rows(session, f: Filters) -> dict[str, list[dict]]:
    return {
        "funnel": funnel_rows(session, f)[1],
        "steps": reports.cadence_steps(session, f.cadence, **f.range) if f.cadence else [],
        "variants": variant_rows(session, f),
        "first-touch": reports.first_touch(session, **f.range),
        "tasks": reports.task_timeliness(session, **f.range),
    }


# ---- charts -------------------------------------------------------------------------------
def funnel_chart(data: dict, f: Filters) -> Any:
    levels = [("MQL: every new lead", data["mql"], ""),
              ("SAL: accepted by a rep", data["sal"], f"{charts.percent(data['mql_to_sal'])} of MQL accepted"),
              ("SQL: qualified", data["sql"], f"{charts.percent(data['sal_to_sql'])} of SAL qualified")]
    return charts.funnel("Funnel, MQL to SAL to SQL", f"Leads created {f.describe()}: {data['mql']} MQL, "
                         f"{data['sal']} SAL, {data['sql']} SQL.", levels)


def stages_chart(rows: list[dict]) -> Any:
    stages = [r for r in rows if r["kind"] == "stage"]
    return charts.bars("Leads by stage now", ", ".join(f"{r['name']}: {r['leads']}" for r in stages),
                       [charts.Bar(r["name"].replace("_", " "), r["leads"],
                                   f"{r['leads']:,} · {charts.percent(r['rate'], 0)}", kind=f"stage-{r['name']}")
                        for r in stages])


def steps_chart(rows: list[dict], cadence: str) -> Any:
    columns = [charts.Column(f"{m}_rate", name, SHORT_NAMES[m]) for m, name in METRIC_NAMES.items()]
    items = [{**r, "label": f"{r['step']}. {CHANNEL_NAMES.get(r['channel'], r['channel'])} · {r['step_id']}"}
             for r in rows]
    return charts.heat_table(f"Each step of {cadence}", "Per step: touches, then the share delivered, replied, "
                             "positive, unsubscribed and bounced. " + "; ".join(
                                 f"{r['label']}: {r['sent']} sent, {charts.percent(r['replied_rate'])} replied"
                                 for r in items), columns, items, label="label",
                             count=charts.Column("sent", "touches", "sent"))


def replies(n: int) -> str:
    return f"{n} repl{'y' if n == 1 else 'ies'}"


def variants_charts(rows: list[dict]) -> list[tuple[str, Any]]:
    steps: dict[str, list[dict]] = {}
    for row in rows:
        steps.setdefault(row["step_id"], []).append(row)
    out = []
    for step_id, variants in steps.items():
        scale = max([v["high"] or 0 for v in variants] + [0.01])
        bars = [charts.Bar(f"variant {v['variant']}", v["reply_rate"] or 0, charts.percent(v["reply_rate"]),
                           note=f"{replies(v['replied'])} of {v['sent']} sent · 95% interval "
                                f"{charts.percent(v['low'], 0)}–{charts.percent(v['high'], 0)}",
                           whisker=(v["low"], v["high"]) if v["low"] is not None else None, kind="variant")
                for v in variants]
        best = max(variants, key=lambda v: v["reply_rate"] or 0)
        overlap = all(v["high"] is not None and v["high"] >= (best["low"] or 0) for v in variants)
        verdict = ("The intervals overlap: the difference may be chance; keep testing." if overlap and len(variants) > 1
                   else f"Variant {best['variant']} leads." if len(variants) > 1 else "Only one variant was sent.")
        out.append((step_id, charts.bars(f"A/B variants of {step_id}", "Reply rate per variant with its 95% interval: "
                                         + "; ".join(f"variant {v['variant']} {replies(v['replied'])} of {v['sent']}"
                                                     for v in variants), bars, scale=scale), verdict))
    return out


def first_touch_chart(rows: list[dict]) -> Any:
    return charts.spans("Time from a new lead to its first touch", "Per rank, median and 90th percentile: " + "; ".join(
        f"rank {r['rank']} median {charts.duration(r['median_seconds'])}, p90 {charts.duration(r['p90_seconds'])}"
        for r in rows), [(f"Rank {r['rank']} · {r['touched']} lead{'s' if r['touched'] != 1 else ''}"
                          + (f", {r['waiting']} waiting" if r["waiting"] else ""),
                          r["median_seconds"], r["p90_seconds"],
                          f"median {charts.duration(r['median_seconds'])} · p90 {charts.duration(r['p90_seconds'])}")
                         for r in rows])


def tasks_chart(rows: list[dict]) -> Any:
    stacks = [charts.Stack(r["owner"] or "unassigned", {**r, "open_ok": r["open"] - r["open_overdue"]},
                           f"{charts.percent(r['on_time_rate'], 0)} on time" if r["on_time_rate"] is not None
                           else f"{r['open']} open") for r in rows]
    return charts.stacked("Rep tasks: on time or overdue", "Per rep: " + "; ".join(
        f"{r['owner'] or 'unassigned'} {r['on_time']} on time, {r['late']} late, {r['missed']} missed, "
        f"{r['open_overdue']} open overdue" for r in rows), TASK_SEGMENTS, stacks)


# ---- pages --------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def reports_page(request: Request, session: SessionDep, f: FiltersDep):
    data, funnel = funnel_rows(session, f)
    rows = report_rows(session, f)
    first = rows["first-touch"]
    tasks = rows["tasks"]
    closed = sum(r["on_time"] + r["late"] + r["missed"] for r in tasks)
    a_rank = next((r for r in first if r["rank"] == "A"), None)
    tiles = [
        ("Leads", f"{data['leads']:,}", "created in the period"),
        ("Accepted", charts.percent(data["mql_to_sal"], 0), "of MQL became SAL"),
        ("Qualified", charts.percent(data["sal_to_sql"], 0), "of SAL became SQL"),
        ("First touch, rank A", charts.duration(a_rank["median_seconds"]) if a_rank else "—", "median"),
        ("Tasks on time", charts.percent(sum(r["on_time"] for r in tasks) / closed if closed else None, 0),
         f"of {closed} done or missed"),
    ]
    return _page(request, "reports.html", {
        "f": f, "ranges": RANGES, "tiles": tiles, "data": data, "funnel": funnel, "rows": rows,
        "chart_defs": charts.DEFS, "funnel_chart": funnel_chart(data, f), "stages_chart": stages_chart(funnel),
        "steps_chart": steps_chart(rows["steps"], f.cadence) if f.cadence else None,
        "variants_charts": variants_charts(rows["variants"]), "first_chart": first_touch_chart(first),
        "tasks_chart": tasks_chart(tasks), "names": CHANNEL_NAMES, "percent": charts.percent,
        "duration": charts.duration, "metrics": METRIC_NAMES, "views_days": lambda n: timedelta(days=n),
    })


@router.get("/{report}.csv")
def report_csv(report: str, session: SessionDep, f: FiltersDep) -> Response:
    rows = report_rows(session, f).get(report)
    if rows is None:
        raise HTTPException(404, f"no report named {report!r}; use funnel, steps, variants, first-touch or tasks")
    out = io.StringIO()
    columns = list(rows[0]) if rows else ["empty"]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    name = f"cadence-{report}-{f.cadence + '-' if report in ('steps', 'variants') and f.cadence else ''}{f.slug()}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
