"""Messages replicas send each other through PostgreSQL ``NOTIFY``.

A replica that changes keys tells the others which cached data keys and KEK
state to forget. The payload is JSON; ``scope`` is one of:

``key``     one tenant's key for one provider changed or went away
``tenant``  every key of a tenant went away
``kek``     a KEK was rotated, its minimum version raised, or destroyed
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

CHANNEL = "byok_keyvault_keys"

Scope = Literal["key", "tenant", "kek"]


@dataclass(frozen=True)
class Notice:
    scope: Scope
    tenant_id: str = ""
    provider: str = ""

    def encode(self) -> str:
        return json.dumps(
            {"scope": self.scope, "tenant": self.tenant_id, "provider": self.provider}
        )

    @classmethod
    def decode(cls, payload: str) -> Notice | None:
        try:
            document = json.loads(payload)
            scope = document["scope"]
            tenant, provider = str(document["tenant"]), str(document["provider"])
        except (ValueError, KeyError, TypeError):
            return None
        if scope not in ("key", "tenant", "kek"):
            return None
        return cls(scope, tenant, provider)


NOTIFY = "SELECT pg_notify($1, $2)"
