"""Connecting to Cosmos DB with the async SDK: account key, or Entra ID when no key is configured."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlparse

from azure.core.pipeline.transport import AioHttpTransport
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
    options: dict[str, object] = {"connection_timeout": 10, "transport": new_transport()}
    if not config.verify_tls:
        options["connection_verify"] = False
    if urlparse(config.endpoint).scheme == "http":
        # Plain-HTTP emulators advertise https endpoints; following them would fail.
        options["enable_endpoint_discovery"] = False
    return options


def _proxy_configured() -> bool:
    return any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"))


def new_transport() -> AioHttpTransport:
    """The SDK's aiohttp transport, reading proxy settings only when a proxy is configured: with them on,
    aiohttp looks up the environment and ~/.netrc in a thread on every request (a tenth of a chat turn's CPU)."""
    return AioHttpTransport(use_env_settings=_proxy_configured())


def new_client(config: CosmosConfig) -> CosmosClient:
    """A client not yet opened: with the account key, or Entra ID through DefaultAzureCredential."""
    if config.key:
        return CosmosClient(config.endpoint, credential=config.key, **client_options(config))
    from azure.identity.aio import DefaultAzureCredential

    return CosmosClient(config.endpoint, credential=DefaultAzureCredential(), **client_options(config))


async def open_client(config: CosmosConfig) -> CosmosClient:
    """An opened client; the HTTP session is closed again when opening fails (the SDK leaves it open)."""
    client = new_client(config)
    try:
        await client.__aenter__()
    except BaseException:
        await client.close()
        raise
    return client


@asynccontextmanager
async def cosmos_client(config: CosmosConfig) -> AsyncIterator[CosmosClient]:
    client = await open_client(config)
    try:
        yield client
    finally:
        await client.close()
