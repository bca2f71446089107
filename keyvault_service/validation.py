"""Checks on request fields, made before anything is read or written.

Messages name the field and the rule, never the value: a key pasted into the
wrong field must not come back in an error or land in a log.
"""

from __future__ import annotations

import re

from keyvault_service.errors import InvalidApiKey, InvalidProvider, InvalidTenantId
from shared.secrets import SecretStr

PROVIDERS = frozenset(
    {"openai", "anthropic", "google", "deepseek", "qwen", "meta_llama"}
)
MAX_API_KEY_CHARS = 4096
# fullmatch, not match with "$": "$" also matches before a trailing newline.
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Keys travel in HTTP headers, which HTTP clients encode as ASCII: anything
# else (a zero-width space, "é", U+2028) could be stored but never sent.
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")


def tenant_id(value: str) -> str:
    if not _TENANT_ID.fullmatch(value):
        raise InvalidTenantId(
            "tenant_id must be 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def provider(value: str) -> str:
    if value not in PROVIDERS:
        raise InvalidProvider(f"provider must be one of {', '.join(sorted(PROVIDERS))}")
    return value


def api_key(value: str) -> SecretStr:
    if not value:
        raise InvalidApiKey("api_key must not be empty")
    if len(value) > MAX_API_KEY_CHARS:
        raise InvalidApiKey(f"api_key must be at most {MAX_API_KEY_CHARS} characters")
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise InvalidApiKey(
            "api_key must be printable ASCII (0x21 to 0x7E): no spaces, "
            "control or non-ASCII characters"
        )
    return SecretStr(value)
