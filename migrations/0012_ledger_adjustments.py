from tortoise import migrations
from tortoise.migrations import operations as ops
from services.models.adjustments import AdjustmentDirection, AdjustmentStatus
from services.models.ledger import AccountKind
from tortoise import fields
from tortoise.indexes import Index

# Rules the ORM cannot express (services/adjustments/): the ledger's new counter-account kind
# in its kind CHECK (0003), and the adjustment's value rules: a positive amount, known states,
# and an entry exactly when applied (one entry per adjustment at most).
ADJUSTMENTS_SQL = r"""
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_valid;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_valid CHECK (kind IN (
    'trader_available', 'trader_held', 'service_revenue', 'exchange_receivable',
    'payouts_in_transit', 'fees', 'suspense', 'adjustments'));
ALTER TABLE ledger_adjustments ADD CONSTRAINT ledger_adjustments_amount_positive
    CHECK (amount > 0);
ALTER TABLE ledger_adjustments ADD CONSTRAINT ledger_adjustments_direction_valid
    CHECK (direction IN ('credit', 'debit'));
ALTER TABLE ledger_adjustments ADD CONSTRAINT ledger_adjustments_status_valid
    CHECK (status IN ('awaiting_second', 'applied', 'rejected', 'cancelled'));
ALTER TABLE ledger_adjustments ADD CONSTRAINT ledger_adjustments_applied_has_entry
    CHECK ((status = 'applied') = (entry_id IS NOT NULL));
CREATE UNIQUE INDEX ledger_adjustments_one_entry ON ledger_adjustments (entry_id)
    WHERE entry_id IS NOT NULL;
"""
ADJUSTMENTS_REVERSE_SQL = r"""
DROP INDEX IF EXISTS ledger_adjustments_one_entry;
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_valid;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_valid CHECK (kind IN (
    'trader_available', 'trader_held', 'service_revenue', 'exchange_receivable',
    'payouts_in_transit', 'fees', 'suspense'));
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0011_exchange_credentials')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LedgerAdjustment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField(db_index=True)),
                ('direction', fields.CharEnumField(description='CREDIT: credit\nDEBIT: debit', enum_type=AdjustmentDirection, max_length=8)),
                ('asset', fields.CharField(default='USDT', max_length=16)),
                ('amount', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('reason', fields.CharField(max_length=500)),
                ('document_ref', fields.CharField(null=True, max_length=200)),
                ('status', fields.CharEnumField(description='AWAITING_SECOND: awaiting_second\nAPPLIED: applied\nREJECTED: rejected\nCANCELLED: cancelled', enum_type=AdjustmentStatus, max_length=16)),
                ('revision', fields.IntField(default=1)),
                ('requested_by', fields.BigIntField()),
                ('decided_by', fields.BigIntField(null=True)),
                ('entry_id', fields.BigIntField(null=True)),
                ('request_key', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ledger_adjustments', 'app': 'models', 'unique_together': (('requested_by', 'request_key'),), 'indexes': [Index(fields=['status', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='LedgerAccount',
            name='kind',
            field=fields.CharEnumField(description='TRADER_AVAILABLE: trader_available\nTRADER_HELD: trader_held\nSERVICE_REVENUE: service_revenue\nEXCHANGE_RECEIVABLE: exchange_receivable\nPAYOUTS_IN_TRANSIT: payouts_in_transit\nFEES: fees\nSUSPENSE: suspense\nADJUSTMENTS: adjustments', enum_type=AccountKind, max_length=24),
        ),
        ops.RunSQL(sql=ADJUSTMENTS_SQL, reverse_sql=ADJUSTMENTS_REVERSE_SQL),
    ]
