"""A trader's rate group's part of the OpenAPI description (webapp/api/admin_groups.py): the
group set on a user's page, answered with the user's file (AdminUserFile, which shows the group
in force today, the next change and the groups to choose from)."""

from __future__ import annotations

from webapp.api.spec_parts import DAY, ID, INT, STRING, Schema, nullable, obj, ref, write

SCHEMAS: dict[str, Schema] = {
    "RateGroupRef": obj({"id": INT, "name": STRING}),
    "GroupChange": obj({"valid_from": DAY, "group": nullable(ref("RateGroupRef"))}),
}

BODIES: dict[str, Schema] = {
    "GroupBody": {"type": "object", "required": ["group_id"], "properties": {
        "group_id": nullable({"type": "integer", "minimum": 1}),
        "valid_from": {**DAY, "description": "Today (UTC) when absent; never earlier"}}},
}

PATHS: dict[str, dict[str, Schema]] = {
    "/api/admin/users/{id}/group": {"put": write(
        "Put a trader into a rate group, or out of every one (null), from a day on (admin)",
        200, ref("AdminUserFile"), params=[ID], request="GroupBody")},
}
