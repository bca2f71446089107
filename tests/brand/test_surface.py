"""The public surface of the brand package and its error table."""

from __future__ import annotations

import inspect

import grpc

import generation_service.brand as brand
from generation_service.brand import errors


def test_the_public_surface_is_exactly_this() -> None:
    assert sorted(brand.__all__) == sorted(
        [
            "GRPC_STATUS",
            "BrandError",
            "BrandGuideError",
            "LengthPolicy",
            "RepairOutcome",
            "RewriteFn",
            "StreamingChecker",
            "Unit",
            "UnknownContentTypeError",
            "UnknownPlatformError",
            "check_variant",
            "content_types",
            "enforce",
            "known_platforms",
            "platform_policy",
            "render_brand_prompt",
            "repair_deterministic",
            "rewrite_instructions",
            "truncate_to_limit",
            "validate_guide",
        ]
    )


def test_check_variant_keeps_the_signature_callers_rely_on() -> None:
    parameters = list(inspect.signature(brand.check_variant).parameters)

    assert parameters == ["text", "guide", "platform", "adherence", "keywords"]
    assert list(inspect.signature(brand.repair_deterministic).parameters) == [
        "text",
        "report",
        "guide",
        "platform",
    ]
    assert list(inspect.signature(brand.enforce).parameters) == [
        "text",
        "guide",
        "platform",
        "adherence",
        "keywords",
        "rewrite",
        "max_rewrites",
    ]
    assert list(inspect.signature(brand.rewrite_instructions).parameters) == [
        "report",
        "guide",
        "platform",
    ]


def test_every_brand_error_maps_to_a_grpc_status() -> None:
    defined = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.BrandError) and cls is not errors.BrandError
    }

    assert set(errors.GRPC_STATUS) == defined
    assert set(errors.GRPC_STATUS.values()) == {grpc.StatusCode.INVALID_ARGUMENT}
