"""KEK rotation: add a version, re-wrap stored data keys, retire old versions.

A rotation is three steps, each safe to repeat:

1. **Rotate** every KEK in use (the shared one, and each tenant's own KEK
   that wraps a stored key). New wraps use the new version at once.
2. **Re-wrap** every row whose ``kek_version`` is below its KEK's latest, in
   batches of ``KEYVAULT_REWRAP_BATCH_SIZE``, through transit's batch
   ``rewrap`` (the data key never leaves Vault). Transit answers a batch with
   200 even when items fail, so each item's own result is checked; a failed
   item is reported by row id and left as it was. A row is updated only if
   its wrapped key is still the one sent, so a concurrent save wins.
   Nothing but the rows themselves records progress: running the step again
   picks up exactly the rows still behind, which makes it resumable after a
   crash, a deadline or a fix to a broken row.
3. **Retire** old versions by raising ``min_decryption_version``, only when
   no row remains below it. :meth:`Rotation.set_min_decryption_version`
   refuses otherwise: raising it early would make those rows unreadable.

One replica rotates at a time (a PostgreSQL advisory lock). Re-keying one
stored secret (a new data key, not a new KEK version) is
:meth:`keyvault_service.keys.KeyService.rekey`.

The ``byok rotate-kek`` command runs the same steps from an operator's shell
(see :func:`main`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import structlog

from keyvault_service import audit
from keyvault_service.config import MAX_REWRAP_BATCH_SIZE, KeyVaultSettings
from keyvault_service.database import translated
from keyvault_service.errors import (
    KekMisconfigured,
    KeyUnreadable,
    KeyVaultError,
    RotationInProgress,
    RowsBelowVersion,
)
from keyvault_service.kek import KekProvider, KekSet, KeyInfo, WrappedKey
from keyvault_service.notices import CHANNEL, NOTIFY, Notice
from keyvault_service.storage import KeyStore
from shared import logging as byok_logging

# Spells "byokrot"; distinct from the migration lock.
ROTATION_LOCK_ID = 0x62796F6B726F74
OPERATOR_CALLER = "operator:byok rotate-kek"

_log = structlog.get_logger("byok.keyvault.rotation")

_KEK_NAMES = """
SELECT DISTINCT kek_key_name FROM provider_keys WHERE kek_provider = $1
"""

_BEHIND = """
SELECT id, tenant_id, provider, wrapped_key, kek_version
FROM provider_keys
WHERE kek_provider = $1 AND kek_key_name = $2 AND kek_version < $3 AND id > $4
ORDER BY id
LIMIT $5
"""

_COUNT_BELOW = """
SELECT count(*) FROM provider_keys
WHERE kek_provider = $1 AND kek_key_name = $2 AND kek_version < $3
"""

_SWAP = """
UPDATE provider_keys AS k
SET wrapped_key = u.new_wrapped, kek_version = u.version
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[])
     AS u(id, old_wrapped, new_wrapped, version)
WHERE k.id = u.id AND k.wrapped_key = u.old_wrapped
RETURNING k.id, k.tenant_id, k.provider, k.kek_key_name, k.kek_version
"""


@dataclass
class KekReport:
    provider: str
    key_name: str
    latest_version: int
    min_decryption_version: int
    rewrapped: int = 0
    remaining: int = 0
    min_raised: bool = False


@dataclass(frozen=True)
class RewrapFailure:
    key_id: uuid.UUID
    tenant_id: str
    provider: str
    kek_version: int
    reason: str


@dataclass
class RotationReport:
    keks: list[KekReport] = field(default_factory=list)
    failures: list[RewrapFailure] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    id: uuid.UUID
    tenant_id: str
    provider: str
    wrapped: str
    kek_version: int


class Rotation:
    def __init__(
        self,
        store: KeyStore,
        keks: KekSet,
        batch_size: int,
        invalidate: Callable[[Notice], None],
    ) -> None:
        self._store = store
        self._keks = keks
        self._batch_size = batch_size
        self._invalidate = invalidate

    async def rotate(
        self, caller: str, raise_min: bool = False, batch_size: int = 0
    ) -> RotationReport:
        """Rotate every KEK in use, then re-wrap (and maybe retire)."""
        async with self._exclusive():
            targets = await self._keks_in_use()
            for kek in targets:
                info = await kek.rotate()
                _log.info("kek rotated", kek=kek.key_name, version=info.latest_version)
                await self._record(audit.Entry(
                    audit.Event.ROTATED, caller=caller, kek_provider=kek.name,
                    kek_key_name=kek.key_name, kek_version=info.latest_version,
                ))
            await self._announce()
            return await self._rewrap_all(targets, caller, raise_min, batch_size)

    async def rewrap(
        self, caller: str, raise_min: bool = False, batch_size: int = 0
    ) -> RotationReport:
        """Re-wrap rows behind their KEK's latest version, without rotating."""
        async with self._exclusive():
            targets = await self._keks_in_use()
            return await self._rewrap_all(targets, caller, raise_min, batch_size)

    async def set_min_decryption_version(
        self, key_name: str, version: int, caller: str
    ) -> KekReport:
        """Retire versions below ``version``; refused while rows still need them."""
        kek = self._keks.by_name(key_name) if key_name else self._keks.default
        if kek is None:
            raise KekMisconfigured(f"this service uses no KEK named {key_name}")
        async with self._exclusive():
            info = await kek.key_info()
            if not 1 <= version <= info.latest_version:
                raise KekMisconfigured(
                    f"KEK {kek.key_name} has versions 1 to {info.latest_version}"
                )
            remaining = await self._count_below(kek, version)
            if remaining:
                raise RowsBelowVersion(
                    f"{remaining} stored keys are still wrapped by a version below "
                    f"{version} of {kek.key_name}; re-wrap them first"
                )
            report = _report(info, remaining=0)
            if version > info.min_decryption_version:
                report = await self._retire(kek, version, caller)
            return report

    async def _rewrap_all(
        self,
        targets: list[KekProvider],
        caller: str,
        raise_min: bool,
        batch_size: int,
    ) -> RotationReport:
        report = RotationReport()
        for kek in targets:
            kek_report = await self._rewrap_kek(
                kek, caller, report.failures, batch_size or self._batch_size
            )
            if raise_min and kek_report.remaining == 0 and (
                kek_report.min_decryption_version < kek_report.latest_version
            ):
                raised = await self._retire(kek, kek_report.latest_version, caller)
                kek_report.min_decryption_version = raised.min_decryption_version
                kek_report.min_raised = True
            report.keks.append(kek_report)
        return report

    async def _rewrap_kek(
        self,
        kek: KekProvider,
        caller: str,
        failures: list[RewrapFailure],
        batch_size: int,
    ) -> KekReport:
        info = await kek.key_info()
        report = _report(info)
        after = uuid.UUID(int=0)
        while rows := await self._behind(kek, info.latest_version, after, batch_size):
            after = rows[-1].id
            outcomes = await kek.rewrap_many([(r.wrapped, r.tenant_id) for r in rows])
            done: list[tuple[_Row, WrappedKey]] = []
            for row, outcome in zip(rows, outcomes, strict=True):
                if isinstance(outcome, KeyUnreadable):
                    failures.append(_failure(row, "KEY_UNREADABLE"))
                else:
                    done.append((row, outcome))
            report.rewrapped += await self._swap(done, caller)
            await self._record_failures(kek, rows, outcomes, caller)
        report.remaining = await self._count_below(kek, info.latest_version)
        return report

    async def _retire(self, kek: KekProvider, version: int, caller: str) -> KekReport:
        info = await kek.set_min_decryption_version(version)
        _log.info("kek versions retired", kek=kek.key_name, below=version)
        await self._record(audit.Entry(
            audit.Event.MIN_VERSION_RAISED, caller=caller, kek_provider=kek.name,
            kek_key_name=kek.key_name, kek_version=version,
        ))
        await self._announce()
        report = _report(info)
        report.min_raised = True
        return report

    async def _keks_in_use(self) -> list[KekProvider]:
        with translated():
            rows = await self._store.pool.fetch(
                _KEK_NAMES, self._keks.provider, timeout=self._store.timeout_s
            )
        targets = [self._keks.default]
        for name in sorted(row["kek_key_name"] for row in rows):
            kek = self._keks.by_name(name)
            if kek is None:
                _log.warning("rows name a KEK this service does not use", kek=name)
            elif kek is not self._keks.default:
                targets.append(kek)
        return targets

    async def _behind(
        self, kek: KekProvider, latest: int, after: uuid.UUID, limit: int
    ) -> list[_Row]:
        with translated():
            rows = await self._store.pool.fetch(
                _BEHIND, kek.name, kek.key_name, latest, after, limit,
                timeout=self._store.timeout_s,
            )
        return [
            _Row(uuid.UUID(bytes=r["id"].bytes), r["tenant_id"], r["provider"],
                 r["wrapped_key"], r["kek_version"])
            for r in rows
        ]

    async def _swap(self, done: list[tuple[_Row, WrappedKey]], caller: str) -> int:
        if not done:
            return 0
        with translated():
            async with (
                self._store.pool.acquire() as connection,
                connection.transaction(),
            ):
                swapped = await connection.fetch(
                    _SWAP,
                    [row.id for row, _ in done],
                    [row.wrapped for row, _ in done],
                    [wrapped.text for _, wrapped in done],
                    [wrapped.version for _, wrapped in done],
                    timeout=self._store.timeout_s,
                )
                await audit.record_many(connection, (
                    audit.Entry(
                        audit.Event.REWRAPPED,
                        tenant_id=r["tenant_id"],
                        provider=r["provider"],
                        caller=caller,
                        key_id=uuid.UUID(bytes=r["id"].bytes),
                        kek_provider=self._keks.provider,
                        kek_key_name=r["kek_key_name"],
                        kek_version=r["kek_version"],
                    )
                    for r in swapped
                ), self._store.timeout_s)
        return len(swapped)

    async def _record_failures(
        self,
        kek: KekProvider,
        rows: list[_Row],
        outcomes: list[WrappedKey | KeyUnreadable],
        caller: str,
    ) -> None:
        entries = [
            audit.Entry(
                audit.Event.REWRAP_FAILED, tenant_id=row.tenant_id,
                provider=row.provider, caller=caller, key_id=row.id,
                kek_provider=kek.name, kek_key_name=kek.key_name,
                kek_version=row.kek_version, detail="KEY_UNREADABLE",
            )
            for row, outcome in zip(rows, outcomes, strict=True)
            if isinstance(outcome, KeyUnreadable)
        ]
        for entry in entries:
            _log.warning("stored key could not be re-wrapped", row_id=str(entry.key_id))
        await audit.record_many(self._store.pool, entries, self._store.timeout_s)

    async def _count_below(self, kek: KekProvider, version: int) -> int:
        with translated():
            count = await self._store.pool.fetchval(
                _COUNT_BELOW, kek.name, kek.key_name, version,
                timeout=self._store.timeout_s,
            )
        return int(count)

    async def _record(self, entry: audit.Entry) -> None:
        await self._store.record(entry)

    async def _announce(self) -> None:
        # Replicas reload KEK state and drop data keys unwrapped before.
        notice = Notice("kek")
        self._invalidate(notice)
        with translated():
            await self._store.pool.execute(
                NOTIFY, CHANNEL, notice.encode(), timeout=self._store.timeout_s
            )

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        with translated():
            connection = await self._store.pool.acquire()
        try:
            with translated():
                locked = await connection.fetchval(
                    "SELECT pg_try_advisory_lock($1)", ROTATION_LOCK_ID
                )
            if not locked:
                raise RotationInProgress("another replica is rotating")
            try:
                yield
            finally:
                await _unlock(connection)
        finally:
            await self._store.pool.release(connection)


async def _unlock(connection: asyncpg.Connection) -> None:
    # The pool hands connections back without a reset, so a lock that could
    # not be released must not go back with its connection: closing the
    # connection is what releases it then.
    try:
        with translated():
            await connection.execute(
                "SELECT pg_advisory_unlock($1)", ROTATION_LOCK_ID
            )
    except BaseException:
        connection.terminate()
        raise


def _report(info: KeyInfo, remaining: int = 0) -> KekReport:
    return KekReport(
        provider=info.provider,
        key_name=info.key_name,
        latest_version=info.latest_version,
        min_decryption_version=info.min_decryption_version,
        remaining=remaining,
    )


def _failure(row: _Row, reason: str) -> RewrapFailure:
    return RewrapFailure(row.id, row.tenant_id, row.provider, row.kek_version, reason)


# -- the operator command ---------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resume",
        action="store_true",
        help="only re-wrap keys behind the latest KEK version; do not rotate",
    )
    parser.add_argument(
        "--retire",
        action="store_true",
        help="raise min_decryption_version when no key is left behind",
    )
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default=0,
        help=f"keys per re-wrap call, 1 to {MAX_REWRAP_BATCH_SIZE}"
        " (default: KEYVAULT_REWRAP_BATCH_SIZE)",
    )


def _batch_size(text: str) -> int:
    # Checked while parsing: a bad size found mid-run would leave the KEK
    # rotated and its rows half re-wrapped.
    refusal = argparse.ArgumentTypeError(
        f"--batch-size must be a whole number from 1 to {MAX_REWRAP_BATCH_SIZE}"
    )
    try:
        size = int(text)
    except ValueError:
        raise refusal from None
    if not 1 <= size <= MAX_REWRAP_BATCH_SIZE:
        raise refusal
    return size


def run(args: argparse.Namespace) -> int:
    """Rotate with the service's settings; exit 1 if any key was left behind.

    The summary goes to stdout, log lines and errors to stderr, so the
    summary can be piped on its own.
    """
    settings = KeyVaultSettings.from_env()
    try:
        report = asyncio.run(_run_once(settings, args))
    except KeyVaultError as error:
        print(f"byok rotate-kek: {error}", file=sys.stderr)
        return 1
    for kek in report.keks:
        print(
            f"{kek.provider} {kek.key_name}: latest v{kek.latest_version}, "
            f"min v{kek.min_decryption_version}, re-wrapped {kek.rewrapped}, "
            f"behind {kek.remaining}"
            + (", old versions retired" if kek.min_raised else "")
        )
    for failure in report.failures:
        print(
            f"failed: key {failure.key_id} ({failure.tenant_id}/{failure.provider},"
            f" v{failure.kek_version}): {failure.reason}"
        )
    left_behind = report.failures or any(kek.remaining for kek in report.keks)
    return 1 if left_behind else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="byok rotate-kek", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    byok_logging.configure()
    return run(args)


async def _run_once(
    settings: KeyVaultSettings, args: argparse.Namespace
) -> RotationReport:
    from keyvault_service.kek import open_keks
    from keyvault_service.migrate import apply_migrations
    from shared.devstack.embedded_db import start_embedded
    from shared.settings import state_dir

    url = settings.database_url.reveal()
    if not url:
        url = await start_embedded(state_dir() / "postgres")
    # The KEK first: a start it refuses leaves the database untouched.
    async with open_keks(settings, url) as keks:
        await apply_migrations(url, timeout_s=settings.db_timeout_s)
        async with KeyStore.open(url, 2, settings.db_timeout_s) as store:
            rotation = Rotation(
                store, keks, settings.rewrap_batch_size, lambda _: None
            )
            if args.resume:
                return await rotation.rewrap(
                    OPERATOR_CALLER, args.retire, args.batch_size
                )
            return await rotation.rotate(
                OPERATOR_CALLER, args.retire, args.batch_size
            )


__all__ = [
    "KekReport",
    "RewrapFailure",
    "Rotation",
    "RotationReport",
    "add_arguments",
    "main",
    "run",
]
