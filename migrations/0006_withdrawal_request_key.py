from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0005_payouts')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Withdrawal',
            name='request_key',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddConstraint(
            model_name='Withdrawal',
            constraint=UniqueConstraint(fields=('user_id', 'request_key'), name=None),
        ),
    ]
