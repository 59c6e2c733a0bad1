"""The Faust dispatch limit: how fast one agent that does nothing takes messages, on this machine.

Every saga stage is a Faust agent, and Faust spends a fixed cost on each message before an agent
sees it (the consumer thread, the conductor, the stream's buffer and acknowledgements). This app
consumes a topic with the saga's own batching and app class and nothing else, so the benchmark can
show that cost beside the Kafka and PostgreSQL limits. Run by `dsrs bench saga` as
`python -m faust --loop uvloop -A dsrs_dev.bench.dispatch worker`, configured by environment:
DSRS_DISPATCH_BROKER, DSRS_DISPATCH_TOPIC, DSRS_DISPATCH_COUNT and DSRS_DISPATCH_RESULT (a file).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any, cast

from faust.types import StreamT

from dsrs.streams.batching import SagaStream
from dsrs.streams.raw_schema import RawSchema
from dsrs.worker.agents import BATCH_SIZE, BATCH_WITHIN_SECONDS
from dsrs.worker.app import SagaApp

COUNT = int(os.environ.get("DSRS_DISPATCH_COUNT", "0"))
RESULT = Path(os.environ.get("DSRS_DISPATCH_RESULT", "dispatch.json"))

app = SagaApp(
    os.environ.get("DSRS_DISPATCH_APP_ID", f"dsrs-dispatch-{uuid.uuid4().hex[:8]}"),
    broker=f"kafka://{os.environ.get('DSRS_DISPATCH_BROKER', '127.0.0.1:9092')}",
    store="memory://",
    web_enabled=False,
    processing_guarantee="at_least_once",
    stream_wait_empty=False,
    consumer_auto_offset_reset="earliest",
    autodiscover=False,
    datadir=os.environ.get("DSRS_DISPATCH_DATADIR", "dispatch-data"),
)
source = app.topic(os.environ.get("DSRS_DISPATCH_TOPIC", "dispatch"), schema=RawSchema())


@app.agent(source, concurrency=1)
async def count(stream: StreamT[Any]) -> None:
    seen = 0
    batch_sizes: list[int] = []
    started = cpu_started = 0.0
    async for events in cast(SagaStream, stream).take_waiting(BATCH_SIZE, within=BATCH_WITHIN_SECONDS):
        if seen == 0:
            # From the first batch: group join and assignment are not dispatch.
            started, cpu_started = time.perf_counter(), time.process_time()
        seen += len(events)
        batch_sizes.append(len(events))
        if seen >= COUNT:
            seconds = time.perf_counter() - started
            result = {
                "messages": seen,
                "messages_per_second": round(seen / seconds, 1),
                "cpu_microseconds_per_message": round(1e6 * (time.process_time() - cpu_started) / seen, 1),
                "batch_sizes": batch_sizes,
            }
            await asyncio.to_thread(RESULT.write_text, json.dumps(result))
            os.kill(os.getpid(), signal.SIGTERM)
            return
