"""The main job: a real generation through the whole local stack.

It starts the stack, saves a tenant's provider key in KeyVault, asks
Generation for brand-checked variants, prints them as they stream with their
compliance reports, and stops everything. A second tenant without a key of
its own shows the platform default model.

There is no network here, so the tenant's "openai" provider is pointed at
the local model server for the demo: the tenant's key is fetched from
KeyVault over mTLS and sent to that server exactly as it would be to OpenAI.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from importlib import resources
from typing import TextIO

import grpc
from byok.generation.v1 import brand_pb2, generation_pb2, generation_pb2_grpc
from byok.keyvault.v1 import keyvault_pb2, keyvault_pb2_grpc
from google.protobuf import json_format

from shared.devstack.stack import Stack, running_stack
from shared.settings import free_port
from shared.tls import TlsFiles, channel_credentials

TENANT_WITH_KEY = "acme-coffee"
TENANT_WITHOUT_KEY = "northwind-books"
ADHERENCE_NAMES = {
    value: name.removeprefix("ADHERENCE_LEVEL_")
    for name, value in brand_pb2.AdherenceLevel.items()
}
SEVERITY_NAMES = {
    value: name.removeprefix("SEVERITY_").lower()
    for name, value in brand_pb2.Severity.items()
}
KEY_SOURCE_NAMES = {
    value: name.removeprefix("KEY_SOURCE_")
    for name, value in generation_pb2.KeySource.items()
}


def demo_brand_guide() -> brand_pb2.BrandGuide:
    text = (
        resources.files("shared.devstack").joinpath("demo_brand_guide.json").read_text()
    )
    return json_format.Parse(text, brand_pb2.BrandGuide())


def _client_channel(stack: Stack, address: str) -> grpc.aio.Channel:
    files = TlsFiles(
        ca=stack.certs / "ca.pem",
        cert=stack.certs / "platform.pem",
        key=stack.certs / "platform-key.pem",
    )
    return grpc.aio.secure_channel(address, channel_credentials(files))


class StreamPrinter:
    """Prints interleaved variant events readably.

    One variant streams live; the others are buffered and printed whole, in
    order, once the live one has finished.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.live: int | None = None
        self.platforms: dict[int, str] = {}
        self.texts: dict[int, str] = {}
        self.endings: dict[int, str] = {}
        self.printed: set[int] = set()

    def handle(self, event: generation_pb2.GenerateContentResponse) -> None:
        kind = event.WhichOneof("event")
        if kind == "variant_started":
            started = event.variant_started
            self.platforms[started.variant_index] = started.platform
            self.texts[started.variant_index] = ""
            if self.live is None:
                self._go_live(started.variant_index)
        elif kind == "text_delta":
            delta = event.text_delta
            self.texts[delta.variant_index] = (
                self.texts.get(delta.variant_index, "") + delta.text
            )
            if delta.variant_index == self.live:
                self.out.write(delta.text)
                self.out.flush()
        elif kind == "variant_completed":
            done = event.variant_completed
            self.texts[done.variant_index] = done.text
            self._ended(done.variant_index, _render_completed(done))
        elif kind == "variant_failed":
            failed = event.variant_failed
            self._ended(
                failed.variant_index,
                f"\n  ✗ failed: {failed.reason}: {failed.message}\n",
            )
        elif kind == "summary":
            self._flush_finished()
            self.out.write(_render_summary(event.summary))

    def _heading(self, index: int) -> str:
        return f"\n── variant {index + 1} · {self.platforms.get(index, '?')} ──\n"

    def _go_live(self, index: int) -> None:
        self.live = index
        self.out.write(self._heading(index) + self.texts.get(index, ""))

    def _ended(self, index: int, ending: str) -> None:
        self.endings[index] = ending
        if index != self.live:
            return
        self.out.write(ending)
        self.printed.add(index)
        self.live = None
        self._flush_finished()
        waiting = sorted(set(self.texts) - set(self.endings))
        if waiting:
            self._go_live(waiting[0])

    def _flush_finished(self) -> None:
        for index in sorted(set(self.endings) - self.printed):
            self.out.write(self._heading(index) + self.texts.get(index, ""))
            self.out.write(self.endings[index])
            self.printed.add(index)


def _render_completed(done: generation_pb2.VariantCompleted) -> str:
    report = done.compliance
    verdict = "compliant" if report.compliant else "NOT compliant"
    lines = [
        f"\n  brand check: {verdict}, score {report.score:.0f}/100 "
        f"({ADHERENCE_NAMES.get(report.adherence, '?')}), length "
        f"{report.length}/{report.length_limit or '-'} {report.length_unit}"
    ]
    for violation in report.violations:
        lines.append(
            f"   [{SEVERITY_NAMES.get(violation.severity, '?')}] {violation.rule_id} "
            f"at {violation.span.start}-{violation.span.end}: {violation.message}"
        )
    usage = done.usage
    estimated = " (estimated)" if usage.estimated else ""
    lines.append(
        f"  tokens: {usage.input_tokens} in, {usage.output_tokens} out{estimated}"
    )
    return "\n".join(lines) + "\n"


def _render_summary(summary: generation_pb2.GenerationSummary) -> str:
    fingerprint = f" …{summary.key_fingerprint}" if summary.key_fingerprint else ""
    return (
        f"\n== {summary.variants_completed} completed, "
        f"{summary.variants_failed} failed"
        f" · provider {summary.provider} · model {summary.model}"
        f" · key {KEY_SOURCE_NAMES.get(summary.key_source, '?')}{fingerprint} ==\n"
    )


def _request(
    tenant: str, provider: str, guide: brand_pb2.BrandGuide
) -> generation_pb2.GenerateContentRequest:
    return generation_pb2.GenerateContentRequest(
        tenant_id=tenant,
        prompt=(
            "Announce our new drag-and-drop email templates for small coffee shops. "
            "They can set up a welcome email in ten minutes."
        ),
        content_type=generation_pb2.CONTENT_TYPE_SOCIAL_POST,
        platforms=["linkedin", "x"],
        tone="friendly, plainspoken",
        length=generation_pb2.CONTENT_LENGTH_SHORT,
        keywords=["email templates"],
        target_audience="owners of small independent coffee shops",
        variant_count=1,
        adherence=brand_pb2.ADHERENCE_LEVEL_MODERATE,
        provider=provider,
        brand_guide=guide,
    )


async def _generate(
    stack: Stack, request: generation_pb2.GenerateContentRequest, out: TextIO
) -> None:
    printer = StreamPrinter(out)
    async with _client_channel(stack, stack.generation_address) as channel:
        stub = generation_pb2_grpc.GenerationServiceStub(channel)
        async for event in stub.GenerateContent(request, timeout=300):
            printer.handle(event)


async def run_demo(out: TextIO = sys.stdout) -> int:
    model_port = free_port()
    overrides = {
        "KEYVAULT_LISTEN": "127.0.0.1:0",
        "GENERATION_LISTEN": "127.0.0.1:0",
        "LOCAL_MODEL_PORT": str(model_port),
        # The tenant's OpenAI key goes to the local model server instead.
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
        "OPENAI_MODEL": "gemma-3-270m",
        # A base model cannot follow rewrite instructions; the reports show what
        # the brand check found instead.
        "GENERATION_MAX_REWRITES": "0",
    }
    out.write(
        "Starting the local stack (database, local model, KeyVault, Generation)…\n"
    )
    async with running_stack(overrides=overrides) as stack:
        out.write(
            f"KeyVault {stack.keyvault_address} · Generation {stack.generation_address}"
            f" · database: {stack.database}\n"
            "The local model is a 270M-parameter base model: "
            "its copy is demo quality.\n"
        )
        tenant_key = f"sk-demo-{secrets.token_urlsafe(24)}"
        async with _client_channel(stack, stack.keyvault_address) as channel:
            keyvault = keyvault_pb2_grpc.KeyVaultServiceStub(channel)
            saved = await keyvault.SaveKey(
                keyvault_pb2.SaveKeyRequest(
                    tenant_id=TENANT_WITH_KEY, provider="openai", api_key=tenant_key
                ),
                timeout=30,
            )
        out.write(
            f"\nSaved {TENANT_WITH_KEY}'s openai key (…{saved.key.fingerprint}) "
            "in KeyVault under envelope encryption.\n"
        )

        guide = demo_brand_guide()
        out.write(
            f"\n# {TENANT_WITH_KEY}: its own openai key, brand guide {guide.name!r}\n"
        )
        await _generate(stack, _request(TENANT_WITH_KEY, "openai", guide), out)

        out.write(f"\n# {TENANT_WITHOUT_KEY}: no key of its own, the platform model\n")
        await _generate(stack, _request(TENANT_WITHOUT_KEY, "", guide), out)

        async with _client_channel(stack, stack.keyvault_address) as channel:
            keyvault = keyvault_pb2_grpc.KeyVaultServiceStub(channel)
            await keyvault.DeleteKey(
                keyvault_pb2.DeleteKeyRequest(
                    tenant_id=TENANT_WITH_KEY, provider="openai"
                ),
                timeout=30,
            )
        out.write(f"\nDeleted {TENANT_WITH_KEY}'s demo key from KeyVault.\n")
    out.write("\nStack stopped.\n")
    return 0


def main() -> int:
    return asyncio.run(run_demo())
