"""One running instance per database: a lease row renewed by its holder.

A second `newsbot run` on the same database refuses to start, so no message is
ever sent twice by two drainers. The lease expires if its holder stops renewing
(a crash); a holder on this same machine whose process is gone is taken over at
once, so a restart after a crash or SIGKILL does not wait for the expiry.
The same row works on SQLite and PostgreSQL (an advisory lock would be
PostgreSQL-only and would not cover the SQLite deployments this mostly serves).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import AlreadyRunningError
from bot.store.schema import leases

LEASE_NAME = "runner"
LEASE_TTL = timedelta(seconds=60)


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_is_dead(holder: str) -> bool:
    """True when `holder` ran on this machine and its process no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def acquire(engine: AsyncEngine, holder: str, now: datetime,
                  ttl: timedelta = LEASE_TTL) -> None:
    """Take the lease or raise AlreadyRunningError naming the current holder."""
    async with engine.begin() as conn:
        row = (await conn.execute(select(leases).where(leases.c.name == LEASE_NAME))).first()
        if row is None:
            try:
                await conn.execute(leases.insert().values(name=LEASE_NAME, holder=holder,
                                                          expires_at=now + ttl))
            except IntegrityError:
                raise AlreadyRunningError("another newsbot started at the same moment") from None
            return
        current, expires_at = row.holder, row.expires_at
        takeover = expires_at <= now or current == holder or _holder_is_dead(current)
        if takeover:
            # Conditional on what we read, so two starters cannot both win.
            result = await conn.execute(update(leases).where(
                leases.c.name == LEASE_NAME, leases.c.holder == current)
                .values(holder=holder, expires_at=now + ttl))
            if result.rowcount == 1:
                return
    raise AlreadyRunningError(
        f"another newsbot ({current}) is running on this database (lease until "
        f"{expires_at:%H:%M:%S}Z); stop it first, or wait for its lease to expire")


async def renew(engine: AsyncEngine, holder: str, now: datetime,
                ttl: timedelta = LEASE_TTL) -> bool:
    """Extend our lease; False if it was lost (another instance took it over)."""
    async with engine.begin() as conn:
        result = await conn.execute(update(leases).where(
            leases.c.name == LEASE_NAME, leases.c.holder == holder)
            .values(expires_at=now + ttl))
        return result.rowcount == 1


async def release(engine: AsyncEngine, holder: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(leases.delete().where(
            leases.c.name == LEASE_NAME, leases.c.holder == holder))
