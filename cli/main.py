"""The `cadence` command: import lists, simulate cadences, read a lead, make keys, load cadences.

Everything goes through the HTTP API (`CADENCE_URL`, default http://127.0.0.1:8000, and
`CADENCE_API_KEY`), so it works against a remote server as well as `make run`. A refusal from
the API is one line naming the field, and the command exits with 1.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Iterator
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cli.client import DEFAULT_URL, Api, Problem

CADENCES_DIR = Path(__file__).resolve().parent.parent / "cadences"
ERRORS_SHOWN = 100

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n\n")[0])
leads_app = typer.Typer(no_args_is_help=True, help="Read leads.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys (admin).")
cadences_app = typer.Typer(no_args_is_help=True, help="Cadence definitions.")
imports_app = typer.Typer(no_args_is_help=True, help="Lead imports already uploaded.")
app.add_typer(leads_app, name="leads")
app.add_typer(keys_app, name="keys")
app.add_typer(cadences_app, name="cadences")
app.add_typer(imports_app, name="imports")


@dataclass
class Target:
    url: str
    key: str | None


def out() -> Console:
    return Console(highlight=False)


@app.callback()
def options(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(envvar="CADENCE_URL", help="The API's address")] = DEFAULT_URL,
    api_key: Annotated[str | None, typer.Option(envvar="CADENCE_API_KEY", show_default=False,
                                                help="An API key (make run prints the first admin key)")] = None,
) -> None:
    ctx.obj = Target(url, api_key)


@contextmanager
def api(ctx: typer.Context, timeout: float = 30.0) -> Iterator[Api]:
    """The API client; a Problem ends the command with its one line and exit code 1."""
    try:
        with Api(ctx.obj.url, ctx.obj.key, timeout) as client:
            yield client
    except Problem as exc:
        fail(str(exc))


def fail(message: str) -> None:
    Console(stderr=True, highlight=False).print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)
    raise typer.Exit(1)


# ---- import -------------------------------------------------------------------------------
@app.command("import")
def import_leads(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A CSV with a header row")],
    cadence: Annotated[str | None, typer.Option(help="Every row's cadence, overriding the column")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the import with a progress bar until done")] = False,
    poll: Annotated[float, typer.Option(hidden=True)] = 0.5,
) -> None:
    """Upload a lead list; with --wait, follow it to the end and list the rejected rows."""
    console = out()
    with api(ctx, timeout=300) as client:
        with file.open("rb") as handle:
            accepted = client.post("/imports", files={"file": (file.name, handle, "text/csv")},
                                   data={"cadence": cadence} if cadence else None)
        console.print(f"Import {accepted['id']}: {accepted['total']} rows from {file.name}")
        for warning in accepted["warnings"]:
            console.print(Text("warning: ", style="yellow") + Text(warning), soft_wrap=True)
        if not wait:
            console.print(f"Follow it with: cadence imports show {accepted['id']}")
            return
        try:
            summary = follow(client, accepted, console, poll)
        except KeyboardInterrupt:
            console.print(f"Stopped following; the import goes on: cadence imports show {accepted['id']}")
            raise typer.Exit(130) from None
        report(summary, console)
        if summary["status"] == "failed":
            raise typer.Exit(1)


def counts_text(summary: dict[str, Any]) -> str:
    return f"{summary['created']} created · {summary['existing']} existing · {summary['rejected']} rejected"


def follow(client: Api, accepted: dict[str, Any], console: Console, poll: float) -> dict[str, Any]:
    """Poll GET /imports/{id} into a progress bar until every row has its outcome."""
    path = f"/imports/{quote(accepted['id'])}"
    summary = accepted
    columns = (TextColumn("[bold]Importing"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
               TextColumn("{task.fields[counts]}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("import", total=summary["total"], completed=summary["processed"],
                                 counts=counts_text(summary))
        while summary["status"] == "running":
            time.sleep(poll)
            summary = client.get(path, params={"errors_limit": 0})
            progress.update(task, completed=summary["processed"], counts=counts_text(summary))
    return client.get(path, params={"errors_limit": ERRORS_SHOWN})


def report(summary: dict[str, Any], console: Console) -> None:
    console.print(f"{summary['status'].capitalize()}: {summary['total']} rows, {counts_text(summary)}.")
    if summary["status"] == "failed":
        for warning in summary["warnings"][-1:]:
            console.print(Text("failed: ", style="red") + Text(warning), soft_wrap=True)
    if summary["created"]:
        pace = summary["start_interval_seconds"]
        console.print(f"{summary['started']} of {summary['created']} cadences started"
                      + (f"; one starts every {pace:g} s." if pace else "."))
    if summary["errors"]:
        table = Table("row", "field", "message", title="Rejected rows", title_justify="left")
        for error in summary["errors"]:
            table.add_row(str(error["row"]), error["field"], error["message"])
        console.print(table)
        if summary["rejected"] > ERRORS_SHOWN:
            console.print(f"... the first {ERRORS_SHOWN} rejected rows; GET /imports/{summary['id']}"
                          f"?errors_offset={ERRORS_SHOWN} lists the rest")


@imports_app.command("show")
def show_import(ctx: typer.Context, import_id: str) -> None:
    """An import's counts and its rejected rows."""
    with api(ctx) as client:
        report(client.get(f"/imports/{quote(import_id, safe='')}", params={"errors_limit": ERRORS_SHOWN}), out())


@imports_app.command("list")
def list_imports(ctx: typer.Context, limit: int = 20) -> None:
    """The latest imports."""
    with api(ctx) as client:
        found = client.get("/imports", params={"limit": limit})
    console = out()
    if not found["data"]:
        console.print("No imports yet.")
    for row in found["data"]:  # newest first
        uploaded = datetime.fromisoformat(row["created_at"]).strftime("%Y-%m-%d %H:%M")
        console.print(f"{row['id']}  {uploaded}  {row['status']:<7} {row['filename'] or '-'}: {row['total']} rows, "
                      f"{counts_text(row)}, {row['started']} started", soft_wrap=True)


# ---- simulate -----------------------------------------------------------------------------
@app.command()
def simulate(
    ctx: typer.Context,
    cadence: Annotated[str, typer.Argument(help="The cadence's name, e.g. rank-a")],
    start: Annotated[str | None, typer.Option(help="Enrolment time, ISO-8601 with offset; default now")] = None,
    timezone_: Annotated[str, typer.Option("--timezone", help="The lead's IANA timezone")] = "UTC",
    version: Annotated[int | None, typer.Option(help="Default: the latest")] = None,
) -> None:
    """When each step of a cadence would happen for a lead enrolled at START in TIMEZONE."""
    body = {"start": start or datetime.now(timezone.utc).isoformat(timespec="seconds"), "timezone": timezone_}
    if version is not None:
        body["version"] = version
    with api(ctx) as client:
        result = client.post(f"/cadences/{quote(cadence, safe='')}/simulate", json=body)
    table = Table("#", "step", "channel", f"local ({result['timezone']})", "UTC",
                  title=f"{result['cadence']['name']} v{result['cadence']['version']}", title_justify="left")
    for step in result["steps"]:
        local = datetime.fromisoformat(step["local"])
        table.add_row(str(step["step"]), step["id"], step["channel"], local.strftime("%a %Y-%m-%d %H:%M"),
                      datetime.fromisoformat(step["at"]).strftime("%Y-%m-%d %H:%M"))
    out().print(table)


# ---- leads --------------------------------------------------------------------------------
def _when(value: str | None, zone: ZoneInfo) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")


@leads_app.command("show")
def show_lead(ctx: typer.Context, lead_id: str) -> None:
    """A lead and its timeline: touches, replies, calls and stage changes."""
    with api(ctx) as client:
        lead = client.get(f"/leads/{quote(lead_id, safe='')}")
    try:
        zone = ZoneInfo(lead["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    console = out()
    name = " ".join(p for p in (lead.get("first_name"), lead.get("last_name")) if p)
    console.print(Text(f"{name} <{lead['email']}>" if name else lead["email"], style="bold")
                  + Text(f"  {lead['company']}" if lead.get("company") else ""))
    console.print(f"{lead['id']} · stage {lead['stage']}"
                  + (f" ({lead['stage_reason']})" if lead.get("stage_reason") else "")
                  + f" · rank {lead['rank']} · level {lead['level']} · {lead['status']}"
                  + f" · {lead['cadence']['name']} v{lead['cadence']['version']}"
                  + (f" · owner {lead['owner']}" if lead.get("owner") else ""), soft_wrap=True)
    if lead.get("next_touch"):
        nxt = lead["next_touch"]
        console.print(f"Next: step {nxt['step']} {nxt['channel']} at {_when(nxt['due_at'], zone)} ({zone.key})")
    entries = []
    for t in lead["touches"]:
        detail = " · ".join(x for x in (t["status"], t.get("subject"), t.get("detail"), t.get("delivery")) if x)
        entries.append((t.get("at") or t.get("due_at") or "", f"step {t['step']} {t['channel']}", detail))
    for e in lead["events"]:
        detail = " · ".join(str(e[k]) for k in ("intent", "outcome", "owner", "notes", "text", "ignored") if e.get(k))
        entries.append((e["at"], e["type"], detail))
    table = Table("when", "what", "detail", title=f"Timeline ({zone.key})", title_justify="left")
    for at, what, detail in sorted(entries, key=lambda entry: entry[0]):
        table.add_row(_when(at, zone), what, detail)
    console.print(table)


# ---- keys ---------------------------------------------------------------------------------
@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="admin, ops, rep or integration")],
    name: Annotated[str | None, typer.Option(help="What the key is for; default: '<role> key'")] = None,
    rep_id: Annotated[str | None, typer.Option(help="The rep a rep key acts for")] = None,
) -> None:
    """Make an API key; it is shown only now."""
    with api(ctx) as client:
        made = client.post("/api-keys", json={"name": name or f"{role} key", "role": role, "rep_id": rep_id})
    console = out()
    console.print(f"Key {made['id']} ({made['name']}, role {made['role']}"
                  + (f", rep {made['rep_id']}" if made.get("rep_id") else "") + "):")
    console.print(f"  {made['key']}", soft_wrap=True)
    console.print("It is shown only now: keep it. Use it with: export CADENCE_API_KEY=<the key>")


# ---- cadences -----------------------------------------------------------------------------
def _unchanged(definition: dict[str, Any], current: dict[str, Any]) -> bool:
    """The API's rule for "no new version": the definition as the server normalises it."""
    from domain.cadences import Cadence

    try:
        proposed = Cadence.from_dict({**definition, "version": current["version"]}).to_dict()
    except Exception:  # not a valid definition: the server's answer lists its problems
        return False
    return proposed == current["definition"]


@cadences_app.command("load")
def load_cadences(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of *.yaml definitions")]
    = CADENCES_DIR,
) -> None:
    """Create or update each YAML definition through the API; a changed one becomes a new version."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        fail(f"no *.yaml cadence definitions in {directory}")
    console, failed = out(), False
    table = Table("cadence", "version", "", title=f"Cadences from {directory}", title_justify="left")
    with api(ctx) as client:
        for path in files:
            try:
                definition = yaml.safe_load(path.read_text())
            except yaml.YAMLError as exc:
                console.print(Text(f"{path.name}: not YAML ({exc})", style="red"), soft_wrap=True)
                failed = True
                continue
            name = definition.get("name") if isinstance(definition, dict) else None
            if not isinstance(name, str) or not name:
                console.print(Text(f"{path.name}: name: is required", style="red"), soft_wrap=True)
                failed = True
                continue
            try:
                result = _load_one(client, name, definition)
            except Problem as exc:
                console.print(Text(f"{name}: {exc}", style="red"), soft_wrap=True)
                failed = True
                continue
            table.add_row(*result)
    console.print(table)
    if failed:
        raise typer.Exit(1)


def _load_one(client: Api, name: str, definition: dict[str, Any]) -> tuple[str, str, str]:
    path = f"/cadences/{quote(name, safe='')}"
    current = client.request("GET", path, expect=(200, 404))
    if current.status_code == 404:
        row = client.post("/cadences", json=definition)
        return name, f"v{row['version']}", "created"
    current = current.json()
    if _unchanged(definition, current):
        return name, f"v{current['version']}", "unchanged"
    row = client.request("PUT", path, json=definition).json()
    return name, f"v{row['version']}", "new version"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
