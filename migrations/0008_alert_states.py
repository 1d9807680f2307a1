from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_audit_chain')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AlertState',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=96)),
                ('family', fields.CharField(max_length=48)),
                ('firing', fields.BooleanField()),
                ('since', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('params', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'alert_states', 'app': 'models', 'pk_attr': 'key', 'table_description': "An operators' alert that is firing, or fired and cleared: told once when it starts, and"},
            bases=['Model'],
        ),
    ]
