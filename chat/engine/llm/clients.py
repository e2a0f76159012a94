"""Which model the chat talks to, from the environment, and the ``openai`` client for it.

Azure OpenAI when ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_DEPLOYMENT`` are set: with ``AZURE_OPENAI_API_KEY``,
else Entra ID (``DefaultAzureCredential``, one per process, its tokens cached and refreshed by the provider). The v1
route needs no api-version; ``OPENAI_API_VERSION`` selects the legacy deployments route. Otherwise ``OPENAI_API_KEY``
with ``OPENAI_BASE_URL``/``OPENAI_MODEL``: OpenAI itself or any compatible server (llama.cpp, vLLM, Ollama).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from openai import AsyncAzureOpenAI, AsyncOpenAI

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"

TokenProvider = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class ModelConfig:
    kind: str  # "azure" or "openai"
    model: str  # the deployment (Azure) or model name
    endpoint: str  # Azure resource endpoint, or the OpenAI-compatible base URL ("" for OpenAI itself)
    api_key: str  # empty on Azure: Entra ID
    api_version: str = ""
    timeout: float = 20.0
    max_retries: int = 2

    @property
    def label(self) -> str:
        """What staff see as the engine that answered."""
        where = "Azure OpenAI" if self.kind == "azure" else (self.endpoint or "OpenAI")
        return f"llm: {self.model} ({where})"


def model_config() -> ModelConfig | None:
    """The configured model, or None when none is (the guided assistant answers alone)."""
    common = {"timeout": settings.LLM_TIMEOUT_SECONDS, "max_retries": settings.LLM_MAX_RETRIES}
    if settings.AZURE_OPENAI_ENDPOINT and settings.AZURE_OPENAI_DEPLOYMENT:
        return ModelConfig(
            "azure",
            settings.AZURE_OPENAI_DEPLOYMENT,
            settings.AZURE_OPENAI_ENDPOINT.rstrip("/"),
            settings.AZURE_OPENAI_API_KEY,
            settings.OPENAI_API_VERSION,
            **common,
        )
    if settings.OPENAI_API_KEY:
        return ModelConfig("openai", settings.OPENAI_MODEL, settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY, **common)
    return None


_credential: Any = None


def entra_token_provider() -> TokenProvider:
    """A bearer-token provider for Azure OpenAI from this process's one DefaultAzureCredential."""
    global _credential
    from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

    if _credential is None:
        _credential = DefaultAzureCredential()
    return get_bearer_token_provider(_credential, COGNITIVE_SERVICES_SCOPE)


def build_client(config: ModelConfig, token_provider: TokenProvider | None = None) -> AsyncOpenAI:
    """The async client for ``config``; ``token_provider`` replaces Entra ID's (tests, other credentials)."""
    limits = {"timeout": config.timeout, "max_retries": config.max_retries}
    if config.kind == "openai":
        return AsyncOpenAI(api_key=config.api_key, base_url=config.endpoint or None, **limits)
    provider = None if config.api_key else (token_provider or entra_token_provider())
    if config.api_version:  # the legacy route: /openai/deployments/<name>/...?api-version=
        return AsyncAzureOpenAI(
            azure_endpoint=config.endpoint,
            api_version=config.api_version,
            api_key=config.api_key or None,
            azure_ad_token_provider=provider,
            **limits,
        )
    return AsyncOpenAI(base_url=f"{config.endpoint}/openai/v1/", api_key=config.api_key or provider, **limits)
