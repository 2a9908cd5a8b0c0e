"""How long a 10,000-row lead list takes to import, and what an inbound lead waits meanwhile.

Run from the repository root::

    .venv/bin/python -m benchmarks.import_bench [ROWS] [--postgres]

It starts what `make run` starts, in a temporary directory: a Temporal dev server, the API (in
this process) and `python worker.py` (its own process, as in production), on SQLite, or on the
PostgreSQL at DATABASE_TEST_URL with --postgres. It times `POST /imports` of a generated list,
the import until every row has its outcome, and an inbound rank-A lead (`POST /leads` and its
first email in the outbox) before and during the import. Results go to stdout as Markdown.
This is a benchmark, not a test: it asserts only that the work it timed was done.
"""
from __future__ import annotations

import asyncio
import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

INBOUND_SAMPLES = 5


def lead_list(rows: int, prefix: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "source", "first_name", "last_name", "company", "timezone", "country", "phone",
                     "custom.industry"])
    zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo"]
    for i in range(rows):
        writer.writerow([f"{prefix}-{i}@example.com", "target_list", f"Ada{i}", "Lovelace", f"Company {i % 97}",
                         zones[i % 3], "DE", f"+1415{i:07d}", "software"])
    return out.getvalue().encode()


async def inbound(http, prefix: str) -> tuple[float, float]:
    """Seconds for POST /leads to answer, and until the lead's first email is in the outbox."""
    began = time.perf_counter()
    r = await http.post("/leads", json={"email": f"{prefix}-{uuid.uuid4().hex[:8]}@example.com",
                                        "source": "form_fill", "first_name": "Grace"})
    answered = time.perf_counter() - began
    assert r.status_code == 201, r.text
    while not (await http.get("/outbox", params={"lead_id": r.json()["id"]})).json():
        await asyncio.sleep(0.1)
    return answered, time.perf_counter() - began


async def main(rows: int, postgres: bool) -> None:
    from persistence.db import Database
    from tests.conftest import POSTGRES_URL
    from tests.support.live import api_client, free_port, prepare_database, serving_api, settings_for, start_dev_server

    tmp = Path(tempfile.mkdtemp(prefix="import-bench-"))
    if postgres:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        db = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    else:
        db = Database(f"sqlite:///{tmp / 'cadence.db'}")
    prepare_database(db)
    env = await start_dev_server(tmp / "temporal.db", free_port())
    port = int(env.client.service_client.config.target_host.rsplit(":", 1)[1])
    settings = settings_for(db, port, free_port(), "bench").model_copy(
        update={"cadence_rate_limit": "1000000/minute"})  # the benchmark polls faster than a person
    worker_env = {**os.environ, "DATABASE_URL": db.url, "TEMPORAL_ADDRESS": settings.temporal_address,
                  "TEMPORAL_TASK_QUEUE": "bench", "CADENCE_SECRET_KEY": "test-secret", "CADENCE_ENV": "test"}
    log = (tmp / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=worker_env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        with serving_api(settings, db) as url:
            async with api_client(url, timeout=120) as http:
                idle = [await inbound(http, "idle") for _ in range(INBOUND_SAMPLES)]
                content = lead_list(rows, uuid.uuid4().hex[:8])
                began = time.perf_counter()
                r = await http.post("/imports", files={"file": ("leads.csv", content, "text/csv")})
                upload = time.perf_counter() - began
                assert r.status_code == 202, r.text
                import_id = r.json()["id"]
                busy, status = [], r.json()
                while status["status"] == "running":
                    if len(busy) < INBOUND_SAMPLES and status["processed"] > rows // 10:
                        busy.append(await inbound(http, "busy"))
                    await asyncio.sleep(0.5)
                    status = (await http.get(f"/imports/{import_id}", params={"errors_limit": 0})).json()
                took = time.perf_counter() - began
                assert (status["created"], status["rejected"]) == (rows, 0), status
    finally:
        worker.terminate()
        worker.wait(30)
        await env.shutdown()
        db.engine.dispose()
        if postgres:
            with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    def median(values, i):
        return statistics.median(v[i] for v in values)

    print(f"| rows | database | POST /imports answered | every row enrolled | rows per second |")
    print("|---:|---|---:|---:|---:|")
    print(f"| {rows:,} | {'PostgreSQL' if postgres else 'SQLite'} | {upload:.2f} s | {took:.0f} s | "
          f"{rows / took:.0f} |")
    print()
    print("| inbound rank-A lead | POST /leads answered | first email in the outbox |")
    print("|---|---:|---:|")
    print(f"| no import running (median of {len(idle)}) | {median(idle, 0) * 1000:.0f} ms | "
          f"{median(idle, 1) * 1000:.0f} ms |")
    if busy:
        print(f"| during the import (median of {len(busy)}) | {median(busy, 0) * 1000:.0f} ms | "
              f"{median(busy, 1) * 1000:.0f} ms |")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(int(args[0]) if args else 10_000, "--postgres" in sys.argv))
    sys.stdout.flush()
    os._exit(0)  # the Temporal SDK's native threads can abort the interpreter's own shutdown
