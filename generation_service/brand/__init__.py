"""Brand compliance: deterministic checks of generated copy.

Pure and offline: no network, no model. The Generation service calls
:func:`check_variant` on every variant, :func:`repair_deterministic` to fix
what needs no model, and :func:`render_brand_prompt` to brief the model.
"""

from __future__ import annotations

from .check import check_variant
from .errors import (
    GRPC_STATUS,
    BrandError,
    BrandGuideError,
    UnknownContentTypeError,
    UnknownPlatformError,
)
from .policies import LengthPolicy, Unit, known_platforms, platform_policy
from .prompt import content_types, render_brand_prompt
from .repair import repair_deterministic, truncate_to_limit
from .streaming import StreamingChecker
from .validate import validate_guide

__all__ = [
    "GRPC_STATUS",
    "BrandError",
    "BrandGuideError",
    "LengthPolicy",
    "StreamingChecker",
    "Unit",
    "UnknownContentTypeError",
    "UnknownPlatformError",
    "check_variant",
    "content_types",
    "known_platforms",
    "platform_policy",
    "render_brand_prompt",
    "repair_deterministic",
    "truncate_to_limit",
    "validate_guide",
]
