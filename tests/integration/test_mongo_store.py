"""Writes and reads through the Mongo-protocol server with PyMongo's async client, as the analytics store will."""

from __future__ import annotations

import uuid

import pytest
from pymongo import AsyncMongoClient

from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack

pytestmark = pytest.mark.integration


async def test_upserts_with_inc_and_set_accumulate(stack: Stack, settings: Settings) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=10_000)
    try:
        collection = client[settings.mongo_database][f"test_rollups_{uuid.uuid4().hex}"]
        key = {"program": "cash-transfer", "region": "R01", "window": "2026-11-29T10:00"}
        for _ in range(3):
            await collection.update_one(
                key, {"$inc": {"approved": 1, "assessed": 2}, "$set": {"updated_by": "test"}}, upsert=True
            )
        document = await collection.find_one(key)
        assert document is not None
        assert (document["approved"], document["assessed"], document["updated_by"]) == (3, 6, "test")
        assert await collection.count_documents({}) == 1
        await collection.drop()
    finally:
        await client.close()
