"""`dsrs dlq list | replay`: what waits in the dead-letter topics, and sending it back once fixed."""

from __future__ import annotations

import asyncio
import getpass

import click

from dsrs.cli.errors import one_line_errors
from dsrs.db.engine import create_engine
from dsrs.dlq.letters import LetterState, letter_states
from dsrs.dlq.replay import DeadLetter, read_dead_letters, replay, select_letters
from dsrs.events.producer import saga_producer
from dsrs.events.topics import DEAD_LETTER_TOPICS
from dsrs.settings import Settings, load_settings
from dsrs.transport_security import kafka_client_options


def _topics(settings: Settings, topic: str | None) -> list[str]:
    names = [settings.topic(name) for name in DEAD_LETTER_TOPICS]
    if topic is None:
        return names
    wanted = settings.topic(topic if topic.endswith(".dlq") else f"{topic}.dlq")
    if wanted not in names:
        raise click.BadParameter(f"{topic} is not a saga topic", param_hint="--topic")
    return [wanted]


async def _read(settings: Settings, topic: str | None) -> list[DeadLetter]:
    return await read_dead_letters(
        settings.bootstrap_servers, _topics(settings, topic), **kafka_client_options(settings)
    )


async def _replay(settings: Settings, letters: list[DeadLetter]) -> list[DeadLetter]:
    engine = create_engine(settings, pool_size=1)
    producer = saga_producer(settings)
    await producer.start()
    try:
        return await replay(engine, producer, letters, f"cli:{getpass.getuser()}")
    finally:
        await producer.stop()
        await engine.dispose()


@click.group()
def dlq() -> None:
    """Dead letters: messages that could not be processed, with the reason."""


@dlq.command(name="list")
@click.option("--topic", default=None, help="A saga topic (or its .dlq twin); default all")
@one_line_errors
def list_letters(topic: str | None) -> None:
    """List dead letters with their reasons and their state (waiting, retried, recovered, parked)."""
    settings = load_settings()
    letters, states = asyncio.run(_read_with_states(settings, topic))
    for letter in letters:
        summary = letter.summary()
        known = states.pop(letter.id, None)
        state = f"{known.state} ({known.cause})" if known else "not yet seen by a worker"
        click.echo(f"{summary['id']}  {state}  {summary['error_class']}  attempts {summary['attempts']}")
        click.echo(f"    {summary['error_message']}")
    held = [s for s in states.values() if s.held_in_database and (topic is None or _held_on(settings, s, topic))]
    for letter_state in held:
        click.echo(f"{letter_state.letter_id}  {letter_state.state} ({letter_state.cause})  {letter_state.error_class}")
        click.echo(f"    held in PostgreSQL (too large for its topic): {letter_state.error_message}")
    click.echo(f"{len(letters) + len(held)} dead letters")


def _held_on(settings: Settings, state: LetterState, topic: str) -> bool:
    return state.original_topic == settings.topic(topic.removesuffix(".dlq"))


async def _read_with_states(settings: Settings, topic: str | None) -> tuple[list[DeadLetter], dict[str, LetterState]]:
    letters = await _read(settings, topic)
    engine = create_engine(settings, pool_size=1)
    try:
        return letters, await letter_states(engine)
    finally:
        await engine.dispose()


@dlq.command(name="replay")
@click.option("--topic", default=None, help="A saga topic (or its .dlq twin); default all")
@click.option("--id", "letter_id", default=None, help="One letter, as TOPIC:PARTITION:OFFSET from `dsrs dlq list`")
@one_line_errors
def replay_letters(topic: str | None, letter_id: str | None) -> None:
    """Send dead letters back to their original topics; each letter is replayed at most once."""
    settings = load_settings()
    letters = select_letters(asyncio.run(_read(settings, topic)), letter_id)
    done = asyncio.run(_replay(settings, letters))
    for letter in done:
        click.echo(f"replayed {letter.id} -> {letter.reason('original-topic')}")
    click.echo(f"{len(done)} replayed, {len(letters) - len(done)} already replayed before")
