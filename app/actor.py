"""Who acts: the authenticated actor, and the one way it travels with a database session.

The audit log records the actor of every change it captures (app/audit.py), and it finds the actor on the
session: whoever opens a session for register work attaches the actor with `attach` before the first write
(`app.security.authenticate` for API requests, `app.tenancy.enter` for the CLI and the worker). Nothing here
imports FastAPI, so services, the CLI and the worker share it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

_KEY = "actor"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is making the change: the key, the person or system behind it, and its controller; and the
    recipient (of the controller's profile) the key belongs to, when what it takes out is a disclosure."""

    controller_id: uuid.UUID
    key_id: uuid.UUID | None
    name: str
    role: str
    recipient: str | None = None


def system_actor(controller_id: uuid.UUID, name: str = "rekisteri cli") -> Actor:
    """The actor for operator commands and background jobs run on the server itself."""
    return Actor(controller_id=controller_id, key_id=None, name=name, role="system")


def attach(session: Any, actor: Actor) -> None:
    """Make `actor` the author of every change the session writes (sync or async session)."""
    session.info[_KEY] = actor


def attached(session: Any) -> Actor | None:
    """The actor attached to the session, if any."""
    actor = session.info.get(_KEY)
    assert actor is None or isinstance(actor, Actor)
    return actor
