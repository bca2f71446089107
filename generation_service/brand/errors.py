"""Errors raised by the brand compliance engine.

::

    BrandError
     ├── UnknownPlatformError      platform id not in the policy table
     ├── UnknownContentTypeError   no prompt template for a content type
     └── BrandGuideError           a guide that cannot be enforced as written

All of them describe bad input from the caller, so a gRPC service maps every
one of them to ``INVALID_ARGUMENT``; ``GRPC_STATUS`` records that in one place.
"""

from __future__ import annotations

import grpc


class BrandError(Exception):
    """Root of every error the brand engine raises."""


class UnknownPlatformError(BrandError):
    def __init__(self, platform: str, known: tuple[str, ...]) -> None:
        self.platform = platform
        super().__init__(f"unknown platform {platform!r}; known: {', '.join(known)}")


class UnknownContentTypeError(BrandError):
    def __init__(self, content_type: str, known: tuple[str, ...]) -> None:
        self.content_type = content_type
        super().__init__(
            f"unknown content type {content_type!r}; known: {', '.join(known)}"
        )


class BrandGuideError(BrandError):
    """A brand guide field that is empty, contradictory or out of range.

    ``field_path`` names the field the way protobuf text does, for example
    ``banned_terms[2].term``, so a client can point at it.
    """

    def __init__(self, field_path: str, message: str) -> None:
        self.field_path = field_path
        self.message = message
        super().__init__(f"{field_path}: {message}")


GRPC_STATUS: dict[type[BrandError], grpc.StatusCode] = {
    UnknownPlatformError: grpc.StatusCode.INVALID_ARGUMENT,
    UnknownContentTypeError: grpc.StatusCode.INVALID_ARGUMENT,
    BrandGuideError: grpc.StatusCode.INVALID_ARGUMENT,
}
