"""Reports through HTTP: the MQL → SAL → SQL funnel and variants compared by replies."""
from __future__ import annotations

import pytest

from tests.support.harness import eventually
from tests.test_api_e2e import dev_server, lead_body, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


async def test_the_funnel_and_the_variants(live):
    leads = [(await live.post("/leads", json=lead_body())).json() for _ in range(4)]

    async def all_emailed():
        outbox = (await live.get("/outbox")).json()
        return outbox if len(outbox) >= 4 else None
    await eventually(all_emailed, timeout=15)
    await live.post(f"/leads/{leads[0]['id']}/signals/reply", json={"intent": "positive"})
    await live.post(f"/leads/{leads[1]['id']}/signals/accept", json={"owner": "ana"})
    await live.post(f"/leads/{leads[2]['id']}/signals/reply", json={"intent": "out_of_office"})  # not a person

    async def settled():
        body = (await live.get("/reports/funnel")).json()
        return body if body["sql"] == 1 and body["sal"] == 2 else None
    funnel = await eventually(settled, timeout=10)
    assert funnel | {"stages": None} == {"leads": 4, "mql": 4, "sal": 2, "sql": 1, "mql_to_sal": 0.5,
                                          "sal_to_sql": 0.5, "stages": None}
    assert funnel["stages"]["qualified"] == 1
    assert (await live.get("/reports/funnel", params={"rank": "B"})).json()["leads"] == 0

    rows = (await live.get("/reports/variants", params={"cadence": "rank-a"})).json()["variants"]
    first = [r for r in rows if r["step_id"] == "a-intro-email"]
    assert sum(r["sent"] for r in first) == 4 and sum(r["replied"] for r in first) == 1
    assert {r["variant"] for r in first} <= {"a", "b"}
    assert (await live.get("/reports/variants", params={"cadence": "nope"})).status_code == 404
    assert (await live.get("/reports/funnel", params={"rank": "Z"})).status_code == 422
