from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# At most one current (not revoked) credential per exchange, even under concurrent writes.
# Tortoise cannot declare a partial unique index: SQL here.
CURRENT_SQL = r"""
CREATE UNIQUE INDEX exchange_credentials_one_current ON exchange_credentials (exchange_id)
    WHERE revoked_at IS NULL;
"""
CURRENT_REVERSE_SQL = r"""
DROP INDEX IF EXISTS exchange_credentials_one_current;
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0010_accruals_covering_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ExchangeCredential',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('exchange_id', fields.CharField(db_index=True, max_length=16)),
                ('ciphertext', fields.TextField(unique=False)),
                ('hint', fields.CharField(max_length=8)),
                ('expires_on', fields.DateField(null=True)),
                ('set_by', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_by', fields.BigIntField(null=True)),
            ],
            options={'table': 'exchange_credentials', 'app': 'models', 'pk_attr': 'id', 'table_description': 'API credentials for one exchange entered in the admin screen (they take precedence over'},
            bases=['Model'],
        ),
        ops.RunSQL(sql=CURRENT_SQL, reverse_sql=CURRENT_REVERSE_SQL),
    ]
