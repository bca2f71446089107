"""Generation settings, read once from the environment at start-up.

Precedence: an explicit argument to :meth:`GenerationSettings.from_env`'s
mapping, else the ``DEFAULT_*`` constant here. Platform keys are
``SecretStr``; an empty one means the platform has no key for that provider.

Each provider has a base URL (``{PREFIX}_BASE_URL``), a default model
(``{PREFIX}_MODEL``) and optionally a model per content type
(``{PREFIX}_MODEL_BLOG_POST`` and so on). A base URL must be ``https://``;
plain ``http://`` only reaches loopback hosts, since it would carry tenant
keys unencrypted, except for ``local``, which carries no tenant key. The
platform's key serves only the models in ``{PREFIX}_PLATFORM_MODELS``
(default: the configured models); a tenant's own key may name any model.

Every count, size and timeout must be greater than zero.

Without ``GENERATION_DATABASE_URL`` the service keeps no usage records,
enforces no budgets or rate limits and stores no tenant policies; limits
configured without a database stop the start rather than go unenforced.

The provider SDKs read more of the environment than their API key:
``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``, ``OPENAI_ADMIN_KEY`` and
``*_CUSTOM_HEADERS`` would be sent to every OpenAI-compatible host, whatever
the provider. The service refuses to start while any of them is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from byok.generation.v1 import generation_pb2

from generation_service.policy import Limits, PlatformFallback, SpendPeriod
from shared.secrets import SecretStr
from shared.settings import (
    SettingsError,
    env_float,
    env_int,
    env_list,
    env_str,
    state_dir,
)
from shared.tls import TlsFiles

DEFAULT_LISTEN = "127.0.0.1:50052"
DEFAULT_KEYVAULT_ADDRESS = "127.0.0.1:50051"

# Provider id -> (environment prefix, default base URL, default model).
PROVIDER_DEFAULTS: dict[str, tuple[str, str, str]] = {
    "openai": ("OPENAI", "https://api.openai.com/v1", "gpt-4o-mini"),
    "anthropic": ("ANTHROPIC", "https://api.anthropic.com", "claude-3-5-haiku-latest"),
    "google": (
        "GOOGLE",
        "https://generativelanguage.googleapis.com/v1beta/openai/",
        "gemini-2.0-flash",
    ),
    "deepseek": ("DEEPSEEK", "https://api.deepseek.com", "deepseek-chat"),
    "qwen": (
        "QWEN",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "qwen-plus",
    ),
    "meta_llama": (
        "META_LLAMA",
        "https://api.llama.com/compat/v1/",
        "Llama-3.3-70B-Instruct",
    ),
    # The platform-hosted llama.cpp server; off unless its URL is set.
    "local": ("LOCAL_MODEL", "", "gemma-3-270m"),
}

# Read by the SDKs whenever our code passes nothing; never let them in.
SDK_AMBIENT_VARIABLES = (
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_ADMIN_KEY",
    "OPENAI_CUSTOM_HEADERS",
    "ANTHROPIC_CUSTOM_HEADERS",
)

_Choice = TypeVar("_Choice", bound=StrEnum)

# Content type names as used in ``{PREFIX}_MODEL_{NAME}`` variables.
CONTENT_TYPE_NAMES = {
    value: name.removeprefix("CONTENT_TYPE_")
    for name, value in generation_pb2.ContentType.items()
    if value != generation_pb2.CONTENT_TYPE_UNSPECIFIED
}

DEFAULT_KEYVAULT_TIMEOUT_S = 2.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
# Longest silence between two chunks of a provider stream.
DEFAULT_STREAM_IDLE_TIMEOUT_S = 30.0
# Used when the caller set no deadline.
DEFAULT_REQUEST_TIMEOUT_S = 120.0
DEFAULT_MAX_ATTEMPTS = 3
# First retry waits about this long (with jitter), doubling after that,
# unless the provider said how long in retry-after.
DEFAULT_RETRY_BASE_S = 0.25
DEFAULT_MAX_RETRY_WAIT_S = 5.0
DEFAULT_MAX_PARALLEL_VARIANTS = 4
DEFAULT_MAX_PROMPT_CHARS = 8000
DEFAULT_MAX_OUTPUT_TOKENS = 1024
# Model rewrites of a variant that breaks a blocking brand rule.
DEFAULT_MAX_REWRITES = 2
DEFAULT_ADMIN_CLIENTS = ("platform",)
# Certificate names that may call GenerateContent, and so spend any
# tenant's key: the platform's backend only.
DEFAULT_CALLER_CLIENTS = ("platform",)
DEFAULT_CLIENT_CACHE_SIZE = 256
# A cached SDK client holds its key in memory: keep it no longer than this.
DEFAULT_CLIENT_CACHE_TTL_S = 300.0
DEFAULT_DATABASE_POOL_SIZE = 10
# Per request: platforms named, and variants over all of them.
DEFAULT_MAX_PLATFORMS_PER_REQUEST = 10
DEFAULT_MAX_VARIANTS_PER_REQUEST = 20
# RPCs served at once; more fail at once with RESOURCE_EXHAUSTED.
DEFAULT_MAX_CONCURRENT_RPCS = 1000
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    base_url: str
    model: str
    platform_key: SecretStr = field(repr=False)
    # ContentType value -> model, where one differs from ``model``.
    models_by_content: Mapping[int, str] = field(default_factory=dict)
    # The models the platform's key may be used for.
    platform_models: frozenset[str] = frozenset()

    def model_for(self, content_type: int) -> str:
        return self.models_by_content.get(content_type, self.model)

    def __repr__(self) -> str:
        has_key = "set" if self.platform_key else "unset"
        return (
            f"ProviderSettings(name={self.name!r}, base_url={self.base_url!r}, "
            f"model={self.model!r}, platform_key={has_key})"
        )


@dataclass(frozen=True)
class GenerationSettings:
    listen: str
    tls: TlsFiles
    keyvault_address: str
    providers: Mapping[str, ProviderSettings]
    default_provider: str
    # Providers tried in order when a request pins none and the tenant has no
    # order of its own; the default provider alone when empty.
    provider_chain: tuple[str, ...] = ()
    platform_fallback: PlatformFallback = PlatformFallback.AUTO
    default_limits: Limits = field(default_factory=Limits)
    database_url: SecretStr = field(default_factory=lambda: SecretStr(""))
    database_pool_size: int = DEFAULT_DATABASE_POOL_SIZE
    # A price table file replacing the bundled one.
    price_table: Path | None = None
    admin_clients: frozenset[str] = frozenset(DEFAULT_ADMIN_CLIENTS)
    caller_clients: frozenset[str] = frozenset(DEFAULT_CALLER_CLIENTS)
    client_cache_size: int = DEFAULT_CLIENT_CACHE_SIZE
    client_cache_ttl_s: float = DEFAULT_CLIENT_CACHE_TTL_S
    retry_base_s: float = DEFAULT_RETRY_BASE_S
    keyvault_timeout_s: float = DEFAULT_KEYVAULT_TIMEOUT_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    stream_idle_timeout_s: float = DEFAULT_STREAM_IDLE_TIMEOUT_S
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S
    max_parallel_variants: int = DEFAULT_MAX_PARALLEL_VARIANTS
    max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    max_rewrites: int = DEFAULT_MAX_REWRITES
    max_platforms_per_request: int = DEFAULT_MAX_PLATFORMS_PER_REQUEST
    max_variants_per_request: int = DEFAULT_MAX_VARIANTS_PER_REQUEST
    max_concurrent_rpcs: int = DEFAULT_MAX_CONCURRENT_RPCS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GenerationSettings:
        ambient = [name for name in SDK_AMBIENT_VARIABLES if env.get(name)]
        if ambient:
            raise SettingsError(
                f"unset {', '.join(ambient)}: the provider SDKs would send it "
                "to every provider host"
            )

        providers = {
            name: _provider(env, name, prefix, base_url, model)
            for name, (prefix, base_url, model) in PROVIDER_DEFAULTS.items()
        }
        if not providers["local"].base_url:
            del providers["local"]
        fallback = "local" if "local" in providers else "openai"
        default_provider = env_str(env, "GENERATION_DEFAULT_PROVIDER", fallback)
        if default_provider not in providers:
            raise SettingsError(
                "GENERATION_DEFAULT_PROVIDER must name a configured provider"
            )
        chain = env_list(env, "GENERATION_PROVIDER_CHAIN")
        if any(name not in providers for name in chain):
            raise SettingsError(
                "GENERATION_PROVIDER_CHAIN must name configured providers only"
            )

        database_url = SecretStr(env_str(env, "GENERATION_DATABASE_URL"))
        limits = _limits(env)
        if limits.any and not database_url:
            raise SettingsError(
                "GENERATION_DEFAULT_* limits need GENERATION_DATABASE_URL: "
                "without it they could not be enforced"
            )
        price_table = env_str(env, "GENERATION_PRICE_TABLE")

        return cls(
            listen=env_str(env, "GENERATION_LISTEN", DEFAULT_LISTEN),
            tls=TlsFiles.from_env(
                env, "GENERATION", state_dir(env) / "certs", "generation"
            ),
            keyvault_address=env_str(env, "KEYVAULT_ADDRESS", DEFAULT_KEYVAULT_ADDRESS),
            providers=providers,
            default_provider=default_provider,
            provider_chain=chain,
            platform_fallback=_choice(
                env,
                "GENERATION_PLATFORM_KEY_FALLBACK",
                PlatformFallback,
                PlatformFallback.AUTO,
            ),
            default_limits=limits,
            database_url=database_url,
            database_pool_size=_positive_int(
                env, "GENERATION_DATABASE_POOL_SIZE", DEFAULT_DATABASE_POOL_SIZE
            ),
            price_table=Path(price_table) if price_table else None,
            admin_clients=frozenset(
                env_list(env, "GENERATION_ADMIN_CLIENTS", DEFAULT_ADMIN_CLIENTS)
            ),
            caller_clients=_clients(
                env, "GENERATION_CALLER_ALLOWED_CLIENTS", DEFAULT_CALLER_CLIENTS
            ),
            client_cache_size=_positive_int(
                env, "GENERATION_CLIENT_CACHE_SIZE", DEFAULT_CLIENT_CACHE_SIZE
            ),
            client_cache_ttl_s=_positive(
                env, "GENERATION_CLIENT_CACHE_TTL_S", DEFAULT_CLIENT_CACHE_TTL_S
            ),
            retry_base_s=_positive(
                env, "GENERATION_RETRY_BASE_S", DEFAULT_RETRY_BASE_S
            ),
            keyvault_timeout_s=_positive(
                env, "GENERATION_KEYVAULT_TIMEOUT_S", DEFAULT_KEYVAULT_TIMEOUT_S
            ),
            connect_timeout_s=_positive(
                env, "GENERATION_CONNECT_TIMEOUT_S", DEFAULT_CONNECT_TIMEOUT_S
            ),
            stream_idle_timeout_s=_positive(
                env, "GENERATION_STREAM_IDLE_TIMEOUT_S", DEFAULT_STREAM_IDLE_TIMEOUT_S
            ),
            request_timeout_s=_positive(
                env, "GENERATION_REQUEST_TIMEOUT_S", DEFAULT_REQUEST_TIMEOUT_S
            ),
            max_attempts=_positive_int(
                env, "GENERATION_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS
            ),
            max_retry_wait_s=_positive(
                env, "GENERATION_MAX_RETRY_WAIT_S", DEFAULT_MAX_RETRY_WAIT_S
            ),
            max_parallel_variants=_positive_int(
                env, "GENERATION_MAX_PARALLEL_VARIANTS", DEFAULT_MAX_PARALLEL_VARIANTS
            ),
            max_prompt_chars=_positive_int(
                env, "GENERATION_MAX_PROMPT_CHARS", DEFAULT_MAX_PROMPT_CHARS
            ),
            max_output_tokens=_positive_int(
                env, "GENERATION_MAX_OUTPUT_TOKENS", DEFAULT_MAX_OUTPUT_TOKENS
            ),
            max_rewrites=max(
                0, env_int(env, "GENERATION_MAX_REWRITES", DEFAULT_MAX_REWRITES)
            ),
            max_platforms_per_request=_positive_int(
                env,
                "GENERATION_MAX_PLATFORMS_PER_REQUEST",
                DEFAULT_MAX_PLATFORMS_PER_REQUEST,
            ),
            max_variants_per_request=_positive_int(
                env,
                "GENERATION_MAX_VARIANTS_PER_REQUEST",
                DEFAULT_MAX_VARIANTS_PER_REQUEST,
            ),
            max_concurrent_rpcs=_positive_int(
                env, "GENERATION_MAX_CONCURRENT_RPCS", DEFAULT_MAX_CONCURRENT_RPCS
            ),
        )


def _provider(
    env: Mapping[str, str], name: str, prefix: str, base_url: str, model: str
) -> ProviderSettings:
    url_variable = "LOCAL_MODEL_BASE_URL" if name == "local" else f"{prefix}_BASE_URL"
    by_content = {
        int(value): chosen
        for value, content in CONTENT_TYPE_NAMES.items()
        if (chosen := env_str(env, f"{prefix}_MODEL_{content}"))
    }
    chosen_url = env_str(env, url_variable, base_url)
    if chosen_url:
        _check_url(url_variable, chosen_url, plain_http=name == "local")
    default_model = env_str(env, f"{prefix}_MODEL", model)
    configured = (default_model, *by_content.values())
    return ProviderSettings(
        name=name,
        base_url=chosen_url,
        model=default_model,
        platform_key=SecretStr(env_str(env, f"{prefix}_API_KEY")),
        models_by_content=by_content,
        platform_models=frozenset(
            env_list(env, f"{prefix}_PLATFORM_MODELS", configured)
        ),
    )


def _check_url(name: str, url: str, plain_http: bool) -> None:
    """Refuse what would not reach an HTTPS host, or send keys in the clear."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SettingsError(f"{name} must be an https:// URL with a host")
    loopback = parts.hostname in LOOPBACK_HOSTS
    if parts.scheme == "http" and not (plain_http or loopback):
        raise SettingsError(
            f"{name} may use plain http:// only for a loopback host "
            f"({', '.join(sorted(LOOPBACK_HOSTS))}): keys would travel "
            "unencrypted"
        )


def _limits(env: Mapping[str, str]) -> Limits:
    raw_spend = env_str(env, "GENERATION_DEFAULT_SPEND_LIMIT_USD", "0")
    try:
        spend = Decimal(raw_spend)
    except InvalidOperation:
        raise SettingsError(
            "GENERATION_DEFAULT_SPEND_LIMIT_USD must be a number"
        ) from None
    limits = Limits(
        requests_per_minute=env_int(env, "GENERATION_DEFAULT_REQUESTS_PER_MINUTE", 0),
        tokens_per_minute=env_int(env, "GENERATION_DEFAULT_TOKENS_PER_MINUTE", 0),
        spend_limit_usd=spend,
        spend_period=_choice(
            env, "GENERATION_DEFAULT_SPEND_PERIOD", SpendPeriod, SpendPeriod.MONTH
        ),
    )
    if min(limits.requests_per_minute, limits.tokens_per_minute) < 0 or spend < 0:
        raise SettingsError("GENERATION_DEFAULT_* limits must not be negative")
    return limits


def _choice(
    env: Mapping[str, str], name: str, kind: type[_Choice], default: _Choice
) -> _Choice:
    raw = env_str(env, name).lower()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise SettingsError(f"{name} must be one of {allowed}") from None


def _clients(
    env: Mapping[str, str], name: str, default: tuple[str, ...]
) -> frozenset[str]:
    clients = frozenset(env_list(env, name, default))
    if not clients:
        raise SettingsError(f"{name} must name a client")
    return clients


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env_int(env, name, default)
    if value <= 0:
        raise SettingsError(f"{name} must be greater than zero")
    return value


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = env_float(env, name, default)
    if value <= 0:
        raise SettingsError(f"{name} must be greater than zero")
    return value
