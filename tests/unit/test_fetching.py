from __future__ import annotations

from pathlib import Path

from dsrs.app import CONSUMER_OPTIONS, SagaApp
from dsrs.streams.fetching import SagaConsumer


def test_the_saga_app_feeds_its_streams_through_the_saga_consumer(tmp_path: Path) -> None:
    app = SagaApp("fetching-test", broker="kafka://127.0.0.1:9", datadir=str(tmp_path), autodiscover=False)
    assert isinstance(app.consumer, SagaConsumer)


def test_every_saga_app_buffers_what_the_worker_buffers(tmp_path: Path) -> None:
    # The dispatch benchmark's app is a SagaApp too: it must measure the consumer the worker runs.
    app = SagaApp("fetching-test", broker="kafka://127.0.0.1:9", datadir=str(tmp_path), autodiscover=False)
    assert app.conf.consumer_max_fetch_size == CONSUMER_OPTIONS["consumer_max_fetch_size"]
    assert app.conf.stream_buffer_maxsize == CONSUMER_OPTIONS["stream_buffer_maxsize"]
