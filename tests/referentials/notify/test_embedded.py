"""Inside `socle serve`, the elected process delivers: two instances, each event once."""

from __future__ import annotations

import time

import httpx
from sqlalchemy.orm import Session, sessionmaker

from referentials.app import create_app
from referentials.core.settings import Settings
from tests.conftest import ThreadedServer
from tests.factories import identity_body
from tests.referentials.notify.conftest import subscribe
from tests.referentials.notify.receiver import Receiver


def test_two_serving_instances_deliver_each_event_once(
    db_settings: Settings,
    session_factory: sessionmaker[Session],
    keys: dict[str, str],
    receiver: Receiver,
    wired: None,
) -> None:
    settings = db_settings.model_copy(
        update={
            "notify": db_settings.notify.model_copy(update={"embedded": True, "poll_seconds": 0.05})
        }
    )
    subscribe(session_factory, receiver.url)
    with ThreadedServer(create_app(settings)) as one, ThreadedServer(create_app(settings)) as two:
        made = []
        for i, server in enumerate((one, two, one, two)):
            answer = httpx.post(
                f"{server.url}/api/v1/identities",
                json=identity_body(birth_name="Roux" + "abcd"[i]),
                headers={"Authorization": f"Bearer {keys['all']}"},
            )
            assert answer.status_code in (200, 201), answer.text
            made.append(answer.json()["id"])
        events = receiver.wait_for(4, timeout=30)
        time.sleep(1)  # a second deliverer would have sent its copies by now
    assert sorted(e["data"]["identity_id"] for e in receiver.events()) == sorted(made)
    assert len(receiver.received) == 4, events
