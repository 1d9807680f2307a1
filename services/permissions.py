"""Who may do what on the operators' side: one table, read by every admin command, button and
admin API route (each checks the sender's role from the database, never the chat it is in).

Seed 000 §8: the executive, product and exchange dashboards are read-only for the roles that
see them; the payout dashboard is read and act for finance (and admins); configuration and
people's roles are the admins'. ``viewer`` reads, never changes.
"""

from __future__ import annotations

from enum import StrEnum

from services.models import Role


class Permission(StrEnum):
    STATS = "stats"  # /stats, the dashboards
    EXCHANGES_VIEW = "exchanges.view"  # /status, the Exchanges screen
    EXCHANGES_EDIT = "exchanges.edit"  # enable, link, sync interval, API credentials
    SYNC = "sync"  # /sync, CSV import
    RATES = "rates"  # trader shares, estimate rates, rate groups
    USERS_VIEW = "users.view"  # /user, the users directory
    USERS_BAN = "users.ban"
    USERS_ROLE = "users.role"
    PAYOUTS_DECIDE = "payouts.decide"  # approve / reject / retry (the finance chat's own rules)
    PAYOUTS_CONFIG = "payouts.config"  # payout networks, limits and thresholds
    BROADCAST = "broadcast"
    ADJUST = "adjust"  # manual ledger adjustments
    AUDIT_VIEW = "audit.view"


_EVERY_OPERATOR = frozenset({Role.ADMIN, Role.FINANCE, Role.OPS, Role.VIEWER})
ALLOWED: dict[Permission, frozenset[Role]] = {
    Permission.STATS: _EVERY_OPERATOR,
    Permission.EXCHANGES_VIEW: frozenset({Role.ADMIN, Role.OPS, Role.VIEWER}),
    Permission.EXCHANGES_EDIT: frozenset({Role.ADMIN}),
    Permission.SYNC: frozenset({Role.ADMIN, Role.OPS}),
    Permission.RATES: frozenset({Role.ADMIN}),
    Permission.USERS_VIEW: _EVERY_OPERATOR,
    Permission.USERS_BAN: frozenset({Role.ADMIN, Role.OPS}),
    Permission.USERS_ROLE: frozenset({Role.ADMIN}),
    Permission.PAYOUTS_DECIDE: frozenset({Role.ADMIN, Role.FINANCE}),
    Permission.PAYOUTS_CONFIG: frozenset({Role.ADMIN}),
    Permission.BROADCAST: frozenset({Role.ADMIN}),
    Permission.ADJUST: frozenset({Role.ADMIN}),
    Permission.AUDIT_VIEW: frozenset({Role.ADMIN, Role.FINANCE}),
}
OPERATOR_ROLES = _EVERY_OPERATOR


def allowed(role: Role, permission: Permission) -> bool:
    return role in ALLOWED[permission]
