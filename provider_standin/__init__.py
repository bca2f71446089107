"""A stand-in for hosted LLM APIs, speaking their exact wire protocols.

It serves OpenAI Chat Completions and legacy Completions (also what the local
llama.cpp server speaks) and Anthropic Messages, streaming and not, with the
providers' own error bodies. What it does is scripted per API key, and it
records every request, so a test can prove which key reached it and when the
client went away.
"""

from provider_standin.recorder import RecordedRequest
from provider_standin.scripts import (
    DEFAULT_TEXT,
    SCRIPT_HEADER,
    Behaviour,
    Script,
    ScriptBook,
    UsageShape,
)
from provider_standin.server import Standin, build_app, running_standin

__all__ = [
    "DEFAULT_TEXT",
    "SCRIPT_HEADER",
    "Behaviour",
    "RecordedRequest",
    "Script",
    "ScriptBook",
    "Standin",
    "UsageShape",
    "build_app",
    "running_standin",
]
