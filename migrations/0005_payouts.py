from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from services.models.payouts import PayoutMethod, WithdrawalStatus
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

# Rules the database keeps whoever writes: the audit log is append-only; a withdrawal's
# amounts add up and are positive; the raw-SQL writers get the defaults.
PAYOUTS_SQL = r"""
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% rejected)', TG_OP;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
ALTER TABLE audit_log ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE withdrawals
    ADD CONSTRAINT withdrawals_amounts CHECK (amount > 0 AND fee >= 0 AND net_amount > 0
                                               AND net_amount = amount - fee),
    ALTER COLUMN created_at SET DEFAULT now(), ALTER COLUMN updated_at SET DEFAULT now(),
    ALTER COLUMN revision SET DEFAULT 1, ALTER COLUMN attempts SET DEFAULT 0,
    ALTER COLUMN approvals_needed SET DEFAULT 0, ALTER COLUMN risk_flags SET DEFAULT '[]',
    ALTER COLUMN auto SET DEFAULT false, ALTER COLUMN paid_manually SET DEFAULT false,
    ALTER COLUMN asset SET DEFAULT 'USDT';
ALTER TABLE withdrawal_approvals ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE payout_addresses ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN label SET DEFAULT '';
CREATE INDEX withdrawals_open ON withdrawals (status, updated_at)
    WHERE status NOT IN ('completed', 'rejected', 'cancelled', 'failed');
"""
PAYOUTS_REVERSE_SQL = r"""
DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
DROP FUNCTION IF EXISTS audit_log_append_only();
DROP INDEX IF EXISTS withdrawals_open;
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0004_outbox_and_digest')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor_id', fields.BigIntField(null=True)),
                ('action', fields.CharField(max_length=48)),
                ('object_type', fields.CharField(max_length=32)),
                ('object_id', fields.CharField(max_length=64)),
                ('before', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('after', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'indexes': [Index(fields=['object_type', 'object_id'])], 'pk_attr': 'id', 'table_description': 'Append-only (a trigger refuses UPDATE and DELETE): who did what to which object, with'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AutoWithdrawal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField(unique=True)),
                ('threshold', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('method', fields.CharEnumField(description='INTERNAL: internal\nONCHAIN: onchain', enum_type=PayoutMethod, max_length=16)),
                ('network_id', fields.CharField(null=True, max_length=24)),
                ('address_id', fields.BigIntField(null=True)),
                ('exchange_id', fields.CharField(null=True, max_length=16)),
                ('enabled', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'auto_withdrawals', 'app': 'models', 'pk_attr': 'id', 'table_description': "A trader's standing order: when the available balance reaches ``threshold``, a request"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PayoutAddress',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField(db_index=True)),
                ('network_id', fields.CharField(max_length=24)),
                ('address', fields.CharField(max_length=128)),
                ('label', fields.CharField(default='', max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('usable_from', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('removed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payout_addresses', 'app': 'models', 'unique_together': (('user_id', 'network_id', 'address'),), 'pk_attr': 'id', 'table_description': "A trader's saved address on a network; it can receive from ``usable_from`` on (a new"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PayoutNetwork',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=24)),
                ('asset', fields.CharField(max_length=16)),
                ('network', fields.CharField(max_length=16)),
                ('name', fields.CharField(max_length=64)),
                ('enabled', fields.BooleanField(default=True)),
                ('position', fields.IntField(default=0)),
                ('payout_exchange_id', fields.CharField(max_length=16)),
                ('min_amount', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('max_amount', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('fee_percent', fields.DecimalField(max_digits=9, decimal_places=6)),
                ('fee_min', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('fee_max', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('limit_24h', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('limit_72h', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('explorer_tx_url', fields.CharField(max_length=255)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'payout_networks', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One way to receive a payout on chain: an asset on a network, paid from one of our'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PayoutSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('approval_threshold', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('dual_approval_threshold', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('address_cooldown_hours', fields.IntField(default=24)),
                ('admins_can_approve', fields.BooleanField(default=True)),
                ('internal_limit_24h', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('internal_limit_72h', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('internal_min_amount', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'payout_settings', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The one row of payout-wide settings (id 1).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Withdrawal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField(db_index=True)),
                ('method', fields.CharEnumField(description='INTERNAL: internal\nONCHAIN: onchain', enum_type=PayoutMethod, max_length=16)),
                ('status', fields.CharEnumField(description='AWAITING_APPROVAL: awaiting_approval\nAPPROVED: approved\nSUBMITTING: submitting\nSUBMITTED: submitted\nSENT: sent\nUNKNOWN: unknown\nERROR: error\nCOMPLETED: completed\nREJECTED: rejected\nCANCELLED: cancelled\nFAILED: failed', enum_type=WithdrawalStatus, max_length=24)),
                ('revision', fields.IntField(default=1)),
                ('asset', fields.CharField(default='USDT', max_length=16)),
                ('amount', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('fee', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('net_amount', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('network_id', fields.CharField(null=True, max_length=24)),
                ('address', fields.CharField(null=True, max_length=128)),
                ('address_id', fields.BigIntField(null=True)),
                ('exchange_id', fields.CharField(max_length=16)),
                ('to_uid', fields.CharField(null=True, max_length=64)),
                ('hold_id', fields.BigIntField(null=True)),
                ('approvals_needed', fields.IntField(default=0)),
                ('risk_flags', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('auto', fields.BooleanField(default=False)),
                ('client_id', fields.CharField(unique=True, max_length=32)),
                ('exchange_withdrawal_id', fields.CharField(null=True, max_length=64)),
                ('tx_hash', fields.CharField(null=True, max_length=128)),
                ('paid_manually', fields.BooleanField(default=False)),
                ('reason', fields.TextField(null=True, unique=False)),
                ('attempts', fields.IntField(default=0)),
                ('card_chat_id', fields.BigIntField(null=True)),
                ('card_message_id', fields.BigIntField(null=True)),
                ('card_state', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'withdrawals', 'app': 'models', 'indexes': [Index(fields=['status', 'updated_at']), Index(fields=['user_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WithdrawalApproval',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('withdrawal_id', fields.BigIntField()),
                ('approver_id', fields.BigIntField()),
                ('revision', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'withdrawal_approvals', 'app': 'models', 'unique_together': (('withdrawal_id', 'approver_id'),), 'pk_attr': 'id', 'table_description': "One approver's yes to one revision. Unique per (withdrawal, approver): a second click"},
            bases=['Model'],
        ),
        ops.RunSQL(sql=PAYOUTS_SQL, reverse_sql=PAYOUTS_REVERSE_SQL),
    ]
