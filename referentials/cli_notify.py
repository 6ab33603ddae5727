"""`socle notify`: deliver notifications from this process (production: beside `socle serve`)."""

from __future__ import annotations

import logging
import signal
import threading

from referentials.core.production import UnsafeSettings, check
from referentials.core.settings import get_settings
from referentials.migrations import open_database


def run_notify() -> None:
    """Deliver notifications (webhooks and the other channels) until stopped.

    It stands for the same election as the workers embedded in `socle serve`, so one beside
    servers whose embedded worker is left on still never delivers twice.
    """
    from referentials import notify_wiring
    from referentials.core.notify.worker import ElectedNotifier

    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    try:
        check(settings)
    except UnsafeSettings as exc:
        raise SystemExit(str(exc)) from exc
    engine = open_database(settings)
    notify_wiring.install(settings)
    notifier = ElectedNotifier(engine, settings.notify).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        notifier.shutdown()
        engine.dispose()
