from __future__ import annotations

from pathlib import Path

from dsrs.app import SagaApp
from dsrs.streams.fetching import SagaConsumer


def test_the_saga_app_feeds_its_streams_through_the_saga_consumer(tmp_path: Path) -> None:
    app = SagaApp("fetching-test", broker="kafka://127.0.0.1:9", datadir=str(tmp_path), autodiscover=False)
    assert isinstance(app.consumer, SagaConsumer)
