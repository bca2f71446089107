"""Log lines never carry key material, whatever shape it arrives in."""

from __future__ import annotations

import json

import pytest
import structlog

from shared import logging as byok_logging
from shared.secrets import MASK, SecretStr

SENTINEL = "sk-proj-SENTINEL0123456789abcdefXYZ"


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]):
    byok_logging.configure(level="DEBUG", fmt="json")

    def read() -> list[dict]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield read
    structlog.reset_defaults()


def test_secret_str_never_prints_its_value() -> None:
    secret = SecretStr(SENTINEL)

    assert SENTINEL not in repr(secret)
    assert SENTINEL not in str(secret)
    assert SENTINEL not in f"{secret} {secret!r} {secret:>40}"
    assert secret.reveal() == SENTINEL
    assert secret.fingerprint == "fXYZ"


def test_secret_str_refuses_to_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(SecretStr(SENTINEL))


def test_fields_named_like_secrets_are_masked(json_lines) -> None:
    structlog.get_logger().info("saving", api_key=SENTINEL, vault_token="hvs.abc")

    (line,) = json_lines()
    assert line["api_key"] == MASK
    assert line["vault_token"] == MASK


def test_key_shaped_values_are_masked_inside_messages_and_nested_fields(
    json_lines,
) -> None:
    structlog.get_logger().warning(
        f"upstream said: invalid key {SENTINEL}",
        detail={"headers": {"authorization": f"Bearer {SENTINEL}"}},
        attempts=[f"key={SENTINEL}"],
    )

    (line,) = json_lines()
    assert SENTINEL not in json.dumps(line)
    assert line["detail"]["headers"]["authorization"] == MASK


def test_tracebacks_are_rendered_without_frame_locals(json_lines) -> None:
    def fails(api_key: str) -> None:
        plaintext = api_key  # noqa: F841 - a local a traceback could show
        raise RuntimeError("provider refused")

    try:
        fails(SENTINEL.replace("sk-", "xx-"))
    except RuntimeError:
        structlog.get_logger().exception("generation failed")

    (line,) = json_lines()
    rendered = json.dumps(line)
    assert "provider refused" in rendered
    assert SENTINEL.replace("sk-", "xx-") not in rendered
