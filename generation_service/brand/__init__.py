"""Brand compliance: deterministic checks of generated copy.

Offline: no network and no model of its own. The Generation service calls
:func:`render_brand_prompt` to brief the model, :class:`StreamingChecker` or
:func:`check_variant` on every variant, and :func:`enforce` on a blocked one:
fixes that need no model (:func:`repair_deterministic`), then rewrites by the
service's model with the exact list of problems (:func:`rewrite_instructions`).
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
from .instructions import rewrite_instructions
from .policies import LengthPolicy, Unit, known_platforms, platform_policy
from .prompt import content_types, render_brand_prompt
from .repair import repair_deterministic, truncate_to_limit
from .repair_loop import RepairOutcome, RewriteFn, enforce
from .streaming import StreamingChecker
from .validate import validate_guide

__all__ = [
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
