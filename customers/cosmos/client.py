"""Connecting to Cosmos DB with the async SDK: account key, or Entra ID when no key is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlparse

from azure.cosmos.aio import CosmosClient

# The well-known key of every Cosmos DB emulator; it is public and grants nothing on a real account.
EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="


@dataclass(frozen=True)
class CosmosConfig:
    endpoint: str
    key: str
    database: str
    verify_tls: bool = True

    @classmethod
    def from_settings(cls) -> CosmosConfig:
        from django.conf import settings

        return cls(
            endpoint=settings.COSMOS_ENDPOINT,
            key=settings.COSMOS_KEY,
            database=settings.COSMOS_DATABASE,
            verify_tls=settings.COSMOS_VERIFY_TLS,
        )

    @property
    def is_local(self) -> bool:
        return urlparse(self.endpoint).hostname in {"localhost", "127.0.0.1", "::1"}


def client_options(config: CosmosConfig) -> dict[str, object]:
    options: dict[str, object] = {"connection_timeout": 10}
    if not config.verify_tls:
        options["connection_verify"] = False
    if urlparse(config.endpoint).scheme == "http":
        # Plain-HTTP emulators advertise https endpoints; following them would fail.
        options["enable_endpoint_discovery"] = False
    return options


@asynccontextmanager
async def _opened(client: CosmosClient) -> AsyncIterator[CosmosClient]:
    """Like ``async with client``, but also closes the HTTP session when opening fails (the SDK does not)."""
    try:
        await client.__aenter__()
    except BaseException:
        await client.close()
        raise
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def cosmos_client(config: CosmosConfig) -> AsyncIterator[CosmosClient]:
    if config.key:
        async with _opened(CosmosClient(config.endpoint, credential=config.key, **client_options(config))) as client:
            yield client
        return
    from azure.identity.aio import DefaultAzureCredential

    async with DefaultAzureCredential() as credential:
        client = CosmosClient(config.endpoint, credential=credential, **client_options(config))
        async with _opened(client) as opened:
            yield opened
