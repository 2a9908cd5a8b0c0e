"""The `cadence` command against the live stack: in-process through Typer's runner, and the
installed console script as a subprocess, both configured by CADENCE_URL and CADENCE_API_KEY."""
from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from tests.support.harness import eventually
from tests.support.live import ADMIN_KEY, BIN, api_client, running_worker, serving_api
from tests.test_api_e2e import FAST, dev_server  # noqa: F401  (fixture)
from tests.test_imports_e2e import import_settings

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


@pytest.fixture
async def live(dev_server, sqlite_db):  # noqa: F811
    settings = import_settings(dev_server, sqlite_db, cadence_import_batch_size=10)
    async with running_worker(dev_server.client, settings, sqlite_db):
        with serving_api(settings, sqlite_db) as base_url:
            async with api_client(base_url) as http:
                yield SimpleNamespace(http=http, url=base_url)


async def cadence(live, *args: str, key: str | None = ADMIN_KEY, url: str | None = None):
    """Run the command in a thread, so the worker on this event loop goes on meanwhile."""
    env = {"CADENCE_URL": url or live.url, "CADENCE_API_KEY": key or ""}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def lead_list(tmp_path: Path, prefix: str, size: int = 30) -> Path:
    lines = ["email,source,first_name,company,Fax"]
    lines += [f"{prefix}-{i}@example.com,event,Ada{i},Engines,1" for i in range(size)]
    if size >= 10:
        lines[5] = "not-an-email,event,Bad,Engines,1"  # row 6
        lines[9] = f"{prefix}-bad@example.com,carrier_pigeon,Bad,Engines,1"  # row 10
    path = tmp_path / "leads.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_import_with_wait_shows_the_progress_bar_and_the_rejected_rows(live, tmp_path):
    result = await cadence(live, "import", str(lead_list(tmp_path, uuid.uuid4().hex[:8])), "--wait", "--poll", "0.1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "30 rows from leads.csv" in out
    assert "warning: the column 'Fax' is not a lead field" in out
    assert "Importing" in out and "30/30 rows" in out and "━" in out  # the bar, as it ended
    assert "Done: 30 rows, 28 created · 0 existing · 2 rejected." in out
    table = [line for line in out.splitlines() if line.startswith("│")]
    assert any("│ 6 " in line and "email" in line and "valid email" in line for line in table), out
    assert any("│ 10 " in line and "source" in line and "carrier_pigeon" in line for line in table), out

    import_id = out.split("Import ", 1)[1].split(":", 1)[0]
    shown = await cadence(live, "imports", "show", import_id)
    assert shown.exit_code == 0 and "28 created" in shown.output
    listed = await cadence(live, "imports", "list")
    assert import_id in listed.output and "leads.csv" in listed.output


async def test_import_errors_are_one_line_naming_the_field(live, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,company\nAda,Engines\n")
    result = await cadence(live, "import", str(bad))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: file: the header has no 'email' or 'source' column (columns: email, first_name, last_name, "
        "company, title, phone, timezone, country, source, source_detail, owner, cadence, custom.<name>)"]
    good = lead_list(tmp_path, uuid.uuid4().hex[:8], size=3)
    result = await cadence(live, "import", str(good), "--cadence", "no-such-cadence")
    assert result.exit_code == 1 and result.output.startswith("error: cadence: unknown cadence 'no-such-cadence'")
    result = await cadence(live, "import", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "does not exist" in result.output


async def test_simulate_prints_each_step_in_the_leads_time(live):
    result = await cadence(live, "simulate", "rank-a", "--start", "2026-01-05T09:00:00+00:00",
                           "--timezone", "Europe/Berlin")
    assert result.exit_code == 0, result.output
    assert "rank-a v1" in result.output and "local (Europe/Berlin)" in result.output
    first = next(line for line in result.output.splitlines() if "a-intro-email" in line)
    assert "Mon 2026-01-05 10:00" in first and "2026-01-05 09:00" in first and "email" in first
    wrong = await cadence(live, "simulate", "rank-a", "--start", "2026-01-05T09:00:00", "--timezone", "Mars/Olympus")
    assert wrong.exit_code == 1
    line, = wrong.output.strip().splitlines()
    assert line.startswith("error: start: ") and "UTC offset" in line and "timezone: " in line
    unknown = await cadence(live, "simulate", "no-such-cadence")
    assert unknown.exit_code == 1 and "no cadence named 'no-such-cadence'" in unknown.output


async def test_leads_show_prints_the_timeline(live):
    lead = (await live.http.post("/leads", json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "source": "form_fill",
                                                 "first_name": "Grace", "last_name": "Hopper", "company": "Navy",
                                                 "timezone": "America/New_York"})).json()

    async def emailed():
        return (await live.http.get(f"/leads/{lead['id']}")).json()["touches"] or None
    await eventually(emailed, timeout=15)
    r = await live.http.post(f"/leads/{lead['id']}/signals/reply", json={"intent": "neutral", "event_id": "r-1",
                                                                          "text": "Tell me more"})
    assert r.status_code == 202

    async def replied():
        return (await live.http.get(f"/leads/{lead['id']}")).json()["events"] or None
    await eventually(replied, timeout=15)
    result = await cadence(live, "leads", "show", lead["id"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Grace Hopper <{lead['email']}>  Navy" in out and "rank A" in out and "rank-a v1" in out
    assert "Timeline (America/New_York)" in out
    assert "step 1 email" in out and "outboxed" in out and "reply" in out and "Tell me more" in out
    missing = await cadence(live, "leads", "show", "no-such-lead")
    assert missing.exit_code == 1 and missing.output.strip() == "error: no lead with id 'no-such-lead'"


async def test_keys_create_shows_the_key_once_and_it_works(live):
    result = await cadence(live, "keys", "create", "--role", "ops", "--name", "cli test")
    assert result.exit_code == 0, result.output
    key = next(word for word in result.output.split() if word.startswith("cad_"))
    assert "role ops" in result.output and "shown only now" in result.output
    assert (await cadence(live, "imports", "list", key=key)).exit_code == 0
    rep = await cadence(live, "keys", "create", "--role", "rep")
    assert rep.exit_code == 1 and "rep_id" in rep.output and len(rep.output.strip().splitlines()) == 1
    as_ops = await cadence(live, "keys", "create", "--role", "ops", key=key)
    assert as_ops.exit_code == 1 and as_ops.output.startswith("error: this key may not do that")


async def test_cadences_load_creates_updates_and_reports_problems(live, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**FAST, "name": name}))
    first = await cadence(live, "cadences", "load", str(tmp_path))
    assert first.exit_code == 0, first.output
    assert any(name in line and "v1" in line and "created" in line for line in first.output.splitlines())
    again = await cadence(live, "cadences", "load", str(tmp_path))
    assert any(name in line and "v1" in line and "unchanged" in line for line in again.output.splitlines())
    changed = {**FAST, "name": name, "steps": [{**FAST["steps"][0], "instructions": "Call {{ first_name }} now"},
                                               *FAST["steps"][1:]]}
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(changed))
    third = await cadence(live, "cadences", "load", str(tmp_path))
    assert any(name in line and "v2" in line and "new version" in line for line in third.output.splitlines())
    assert (await live.http.get(f"/cadences/{name}")).json()["version"] == 2

    (tmp_path / "broken.yaml").write_text(yaml.safe_dump({"name": f"{name}-x", "steps": [
        {"id": "x", "channel": "fax", "wait": "P1D"}]}))
    broken = await cadence(live, "cadences", "load", str(tmp_path))
    assert broken.exit_code == 1
    assert any(line.startswith(f"{name}-x: ") and "steps.0.channel: " in line for line in broken.output.splitlines())
    defaults = await cadence(live, "cadences", "load")  # the project's own cadences/ folder
    assert defaults.exit_code == 0 and "rank-a" in defaults.output and "unchanged" in defaults.output


async def test_an_unreachable_api_or_a_wrong_key_is_one_line_and_exit_1(live):
    gone = await cadence(live, "imports", "list", url="http://127.0.0.1:9")
    assert gone.exit_code == 1 and gone.output.startswith("error: cannot reach the API at http://127.0.0.1:9")
    wrong = await cadence(live, "imports", "list", key="cad_not-a-key")
    assert wrong.exit_code == 1 and "refused the key" in wrong.output and "CADENCE_API_KEY" in wrong.output


async def test_the_installed_console_script_imports_a_list(live, tmp_path):
    script = BIN / "cadence"
    assert script.exists(), "the cadence console script is not installed: run `make test` (pip install -e .)"
    process = await asyncio.create_subprocess_exec(
        str(script), "import", str(lead_list(tmp_path, uuid.uuid4().hex[:8], size=12)), "--wait",
        env={**os.environ, "CADENCE_URL": live.url, "CADENCE_API_KEY": ADMIN_KEY},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 0, output
    assert "12/12 rows" in output and "Done: 12 rows, 10 created · 0 existing · 2 rejected." in output
