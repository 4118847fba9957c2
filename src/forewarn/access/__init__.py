"""Access: who may see and do what.

- :mod:`~forewarn.access.roles`: roles and the actions each may take;
- :mod:`~forewarn.access.scope`: :class:`Scope` and :func:`scoped`, the one place that limits
  every query to the sites a user may see;
- :mod:`~forewarn.access.passwords`: argon2id hashing and the password policy;
- :mod:`~forewarn.access.users`: users, API tokens, device tokens;
- :mod:`~forewarn.access.audit`: the audit log of every write;
- :mod:`~forewarn.access.ratelimit`: login rate limiting;
- :mod:`~forewarn.access.bootstrap`: the first administrator.
"""

from __future__ import annotations

from forewarn.access.errors import AccessError, PasswordPolicyError
from forewarn.access.roles import Action, Role
from forewarn.access.scope import Scope, scoped

__all__ = ["AccessError", "Action", "PasswordPolicyError", "Role", "Scope", "scoped"]
