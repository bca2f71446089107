"""Settings from the environment, and the one table of error statuses."""

from __future__ import annotations

import re

import grpc
import pytest

from generation_service import errors
from generation_service.config import GenerationSettings
from shared.settings import SettingsError


def all_subclasses(root: type) -> list[type]:
    found = []
    for sub in root.__subclasses__():
        found += [sub, *all_subclasses(sub)]
    return found


# Raised only through their subclasses.
GROUPS = {
    errors.KeyResolutionError,
    errors.LimitExceeded,
    errors.ProviderError,
    errors.StoreError,
    errors.VariantError,
}
ERROR_CLASSES = [
    kind
    for kind in all_subclasses(errors.GenerationError)
    if kind.__module__ == errors.__name__ and kind not in GROUPS
]


def test_defaults_point_at_the_hosted_apis_and_local_keyvault() -> None:
    settings = GenerationSettings.from_env({})

    assert settings.listen == "127.0.0.1:50052"
    assert settings.keyvault_address == "127.0.0.1:50051"
    assert settings.default_provider == "openai"
    assert "local" not in settings.providers
    urls = {name: p.base_url for name, p in settings.providers.items()}
    assert urls == {
        "openai": "https://api.openai.com/v1",
        "anthropic": "https://api.anthropic.com",
        "google": "https://generativelanguage.googleapis.com/v1beta/openai/",
        "deepseek": "https://api.deepseek.com",
        "qwen": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "meta_llama": "https://api.llama.com/compat/v1/",
    }
    assert not any(p.platform_key for p in settings.providers.values())
    assert settings.tls.cert.name == "generation.pem"


def test_a_local_model_url_turns_local_on_and_makes_it_the_default() -> None:
    settings = GenerationSettings.from_env(
        {"LOCAL_MODEL_BASE_URL": "http://127.0.0.1:8080/v1", "LOCAL_MODEL_MODEL": "g"}
    )

    assert settings.default_provider == "local"
    assert settings.providers["local"].model == "g"


def test_the_default_provider_must_be_configured() -> None:
    with pytest.raises(SettingsError, match="GENERATION_DEFAULT_PROVIDER"):
        GenerationSettings.from_env({"GENERATION_DEFAULT_PROVIDER": "local"})


@pytest.mark.parametrize(
    "name", ["OPENAI_ORG_ID", "OPENAI_CUSTOM_HEADERS", "ANTHROPIC_CUSTOM_HEADERS"]
)
def test_sdk_variables_that_would_reach_every_host_stop_the_start(name: str) -> None:
    with pytest.raises(SettingsError, match=name) as raised:
        GenerationSettings.from_env({name: "Authorization: Bearer planted-value"})

    assert "planted-value" not in str(raised.value)


def test_platform_keys_never_show_in_the_settings_repr() -> None:
    settings = GenerationSettings.from_env(
        {"OPENAI_API_KEY": "planted-openai-key", "QWEN_API_KEY": "planted-qwen-key"}
    )

    assert settings.providers["openai"].platform_key.reveal() == "planted-openai-key"
    assert "planted" not in repr(settings)
    assert "platform_key=set" in repr(settings.providers["qwen"])


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(SettingsError, match="GENERATION_STREAM_IDLE_TIMEOUT_S"):
        GenerationSettings.from_env({"GENERATION_STREAM_IDLE_TIMEOUT_S": "0"})


@pytest.mark.parametrize("kind", ERROR_CLASSES, ids=lambda k: k.__name__)
def test_every_error_has_its_own_status_in_the_table(kind: type) -> None:
    assert kind in errors.STATUS
    assert isinstance(errors.STATUS[kind], grpc.StatusCode)


def test_every_reason_is_distinct_and_shaped_for_error_info() -> None:
    reasons = [kind.reason for kind in ERROR_CLASSES]

    assert len(reasons) == len(set(reasons))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]{0,62}", r) for r in reasons)


def test_only_our_own_defects_map_to_internal() -> None:
    internal = {
        k for k, code in errors.STATUS.items() if code == grpc.StatusCode.INTERNAL
    }

    assert internal == {
        errors.InternalFailure,
        errors.KeyVaultFailed,
        errors.PlatformKeyRejected,
    }


def test_new_settings_have_safe_defaults() -> None:
    settings = GenerationSettings.from_env({})

    assert settings.provider_chain == ()
    assert settings.platform_fallback == "auto"
    assert not settings.default_limits.any
    assert not settings.database_url
    assert settings.admin_clients == {"platform"}
    assert settings.max_attempts == 3
    assert settings.max_rewrites == 2


def test_limits_without_a_database_stop_the_start() -> None:
    with pytest.raises(SettingsError, match="GENERATION_DATABASE_URL"):
        GenerationSettings.from_env({"GENERATION_DEFAULT_SPEND_LIMIT_USD": "10"})


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"GENERATION_PROVIDER_CHAIN": "openai,mystery"}, "GENERATION_PROVIDER_CHAIN"),
        (
            {"GENERATION_PLATFORM_KEY_FALLBACK": "maybe"},
            "GENERATION_PLATFORM_KEY_FALLBACK",
        ),
        (
            {
                "GENERATION_DATABASE_URL": "postgresql://db/x",
                "GENERATION_DEFAULT_TOKENS_PER_MINUTE": "-5",
            },
            "GENERATION_DEFAULT_",
        ),
        (
            {"GENERATION_DEFAULT_SPEND_PERIOD": "week"},
            "GENERATION_DEFAULT_SPEND_PERIOD",
        ),
        ({"GENERATION_DEFAULT_SPEND_LIMIT_USD": "ten"}, "SPEND_LIMIT_USD"),
    ],
)
def test_malformed_policy_settings_stop_the_start(
    env: dict[str, str], name: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        GenerationSettings.from_env(env)


def test_the_database_url_never_shows_in_the_settings_repr() -> None:
    settings = GenerationSettings.from_env(
        {"GENERATION_DATABASE_URL": "postgresql://u:planted-password@db/x"}
    )

    assert "planted-password" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GENERATION_MAX_OUTPUT_TOKENS", "-5"),
        ("GENERATION_MAX_PROMPT_CHARS", "0"),
        ("GENERATION_MAX_RETRY_WAIT_S", "-1"),
        ("GENERATION_MAX_ATTEMPTS", "0"),
        ("GENERATION_MAX_PARALLEL_VARIANTS", "-2"),
        ("GENERATION_CLIENT_CACHE_SIZE", "0"),
        ("GENERATION_DATABASE_POOL_SIZE", "0"),
        ("GENERATION_MAX_PLATFORMS_PER_REQUEST", "0"),
        ("GENERATION_MAX_VARIANTS_PER_REQUEST", "0"),
        ("GENERATION_MAX_CONCURRENT_RPCS", "0"),
    ],
)
def test_non_positive_numbers_stop_the_start(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        GenerationSettings.from_env({name: value})


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("OPENAI_BASE_URL", "ftp://api.example.com/v1"),
        ("ANTHROPIC_BASE_URL", "api.anthropic.com"),
        ("OPENAI_BASE_URL", "http://api.example.com/v1"),
        ("DEEPSEEK_BASE_URL", "http://10.0.0.5/v1"),
        ("LOCAL_MODEL_BASE_URL", "file:///tmp/model"),
        ("GOOGLE_BASE_URL", "https:///v1"),
    ],
)
def test_a_base_url_that_is_not_https_or_loopback_http_stops_the_start(
    name: str, url: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        GenerationSettings.from_env({name: url})


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/v1", "http://[::1]:8080/v1", "http://localhost/v1"],
)
def test_plain_http_is_accepted_for_loopback_hosts(url: str) -> None:
    settings = GenerationSettings.from_env({"OPENAI_BASE_URL": url})

    assert settings.providers["openai"].base_url == url


def test_the_local_model_may_be_reached_over_plain_http_on_its_own_network() -> None:
    # It carries no tenant key: only the platform's own, usually none.
    settings = GenerationSettings.from_env(
        {"LOCAL_MODEL_BASE_URL": "http://local-model:8080/v1"}
    )

    assert settings.providers["local"].base_url == "http://local-model:8080/v1"


def test_request_caps_and_rpc_concurrency_have_bounded_defaults() -> None:
    settings = GenerationSettings.from_env({})

    assert settings.max_platforms_per_request == 10
    assert settings.max_variants_per_request == 20
    assert settings.max_concurrent_rpcs == 1000


def test_the_platform_key_allows_the_configured_models_only() -> None:
    settings = GenerationSettings.from_env(
        {
            "OPENAI_MODEL_BLOG_POST": "gpt-4o",
            "ANTHROPIC_PLATFORM_MODELS": "claude-a, claude-b",
        }
    )

    assert settings.providers["openai"].platform_models == {"gpt-4o-mini", "gpt-4o"}
    assert settings.providers["anthropic"].platform_models == {
        "claude-a",
        "claude-b",
    }
