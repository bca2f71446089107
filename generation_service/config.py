"""Generation settings, read once from the environment at start-up.

Precedence: an explicit argument to :meth:`GenerationSettings.from_env`'s
mapping, else the ``DEFAULT_*`` constant here. Platform keys are
``SecretStr``; an empty one means the platform has no key for that provider.

The provider SDKs read more of the environment than their API key:
``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``, ``OPENAI_ADMIN_KEY`` and
``*_CUSTOM_HEADERS`` would be sent to every OpenAI-compatible host, whatever
the provider. The service refuses to start while any of them is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.secrets import SecretStr
from shared.settings import SettingsError, env_float, env_int, env_str, state_dir
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

DEFAULT_KEYVAULT_TIMEOUT_S = 2.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
# Longest silence between two chunks of a provider stream.
DEFAULT_STREAM_IDLE_TIMEOUT_S = 30.0
# Used when the caller set no deadline.
DEFAULT_REQUEST_TIMEOUT_S = 120.0
DEFAULT_MAX_ATTEMPTS = 2
DEFAULT_MAX_RETRY_WAIT_S = 5.0
DEFAULT_MAX_PARALLEL_VARIANTS = 4
DEFAULT_MAX_PROMPT_CHARS = 8000
DEFAULT_MAX_OUTPUT_TOKENS = 1024


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    base_url: str
    model: str
    platform_key: SecretStr = field(repr=False)

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
    keyvault_timeout_s: float = DEFAULT_KEYVAULT_TIMEOUT_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    stream_idle_timeout_s: float = DEFAULT_STREAM_IDLE_TIMEOUT_S
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S
    max_parallel_variants: int = DEFAULT_MAX_PARALLEL_VARIANTS
    max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS

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

        return cls(
            listen=env_str(env, "GENERATION_LISTEN", DEFAULT_LISTEN),
            tls=TlsFiles.from_env(
                env, "GENERATION", state_dir(env) / "certs", "generation"
            ),
            keyvault_address=env_str(env, "KEYVAULT_ADDRESS", DEFAULT_KEYVAULT_ADDRESS),
            providers=providers,
            default_provider=default_provider,
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
            max_attempts=max(1, env_int(env, "GENERATION_MAX_ATTEMPTS", 2)),
            max_retry_wait_s=env_float(
                env, "GENERATION_MAX_RETRY_WAIT_S", DEFAULT_MAX_RETRY_WAIT_S
            ),
            max_parallel_variants=max(
                1,
                env_int(
                    env,
                    "GENERATION_MAX_PARALLEL_VARIANTS",
                    DEFAULT_MAX_PARALLEL_VARIANTS,
                ),
            ),
            max_prompt_chars=env_int(
                env, "GENERATION_MAX_PROMPT_CHARS", DEFAULT_MAX_PROMPT_CHARS
            ),
            max_output_tokens=env_int(
                env, "GENERATION_MAX_OUTPUT_TOKENS", DEFAULT_MAX_OUTPUT_TOKENS
            ),
        )


def _provider(
    env: Mapping[str, str], name: str, prefix: str, base_url: str, model: str
) -> ProviderSettings:
    url_variable = "LOCAL_MODEL_BASE_URL" if name == "local" else f"{prefix}_BASE_URL"
    return ProviderSettings(
        name=name,
        base_url=env_str(env, url_variable, base_url),
        model=env_str(env, f"{prefix}_MODEL", model),
        platform_key=SecretStr(env_str(env, f"{prefix}_API_KEY")),
    )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = env_float(env, name, default)
    if value <= 0:
        raise SettingsError(f"{name} must be greater than zero")
    return value
