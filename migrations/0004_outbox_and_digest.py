from tortoise import migrations
from tortoise.migrations import operations as ops
from services.models.users import DigestMode
from tortoise import fields

# Tortoise also proposed dropping and re-adding users.id here (its generated=False quirk, see
# 0002 and 0003); that is not part of this change and was left out.
# The outbox is written with raw SQL (INSERT … ON CONFLICT), so the database supplies its
# defaults too; digest_mode gets a CHECK so no writer can store a mode the code does not know.
OUTBOX_SQL = r"""
ALTER TABLE notifications ALTER COLUMN status SET DEFAULT 'pending',
    ALTER COLUMN attempts SET DEFAULT 0, ALTER COLUMN silent SET DEFAULT false,
    ALTER COLUMN params SET DEFAULT '{}', ALTER COLUMN created_at SET DEFAULT now();
-- The claim skips chats that have a claimed row; this keeps that check cheap.
CREATE INDEX notifications_pending_chat ON notifications (chat_id) WHERE status = 'pending';
ALTER TABLE users ALTER COLUMN digest_mode SET DEFAULT 'on';
ALTER TABLE users ADD CONSTRAINT users_digest_mode_valid
    CHECK (digest_mode IN ('on', 'silent', 'off'));
"""
OUTBOX_REVERSE_SQL = r"""
DROP INDEX IF EXISTS notifications_pending_chat;
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_digest_mode_valid;
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0003_ledger')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Notification',
            name='claimed_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='digest_mode',
            field=fields.CharEnumField(default=DigestMode.ON, description='ON: on\nSILENT: silent\nOFF: off', enum_type=DigestMode, max_length=8),
        ),
        ops.RunSQL(sql=OUTBOX_SQL, reverse_sql=OUTBOX_REVERSE_SQL),
    ]
