"""Which providers a request may use, in the order they are tried.

A request that names a provider or a model is pinned to it: nothing else is
tried. Otherwise the tenant's own provider order applies, else the service's
``GENERATION_PROVIDER_CHAIN``, else the default provider alone. Providers
that are not configured are skipped; each step uses its provider's model for
the request's content type.

Moving down the chain happens only before a variant released any text, and
only for errors that allow it (``ProviderError.falls_back``); each step uses
the key the tenant's policy allows for that provider, resolved on demand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from generation_service.config import GenerationSettings, ProviderSettings


@dataclass(frozen=True)
class Step:
    provider: str
    model: str


def provider_chain(
    settings: GenerationSettings,
    content_type: int,
    pinned_provider: str,
    pinned_model: str,
    tenant_order: Sequence[str],
) -> tuple[Step, ...]:
    providers = settings.providers
    if pinned_provider or pinned_model:
        name = (
            pinned_provider
            or _first(tenant_order, providers)
            or (settings.default_provider)
        )
        model = pinned_model or providers[name].model_for(content_type)
        return (Step(name, model),)

    order = [name for name in tenant_order if name in providers]
    if not order:
        order = list(settings.provider_chain) or [settings.default_provider]
    unique = list(dict.fromkeys(order))
    return tuple(Step(name, providers[name].model_for(content_type)) for name in unique)


def _first(order: Sequence[str], providers: Mapping[str, ProviderSettings]) -> str:
    return next((name for name in order if name in providers), "")
