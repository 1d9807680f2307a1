from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_alert_states')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Broadcast',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_by', fields.BigIntField()),
                ('texts', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('audience', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('recipients', fields.IntField()),
                ('progress_chat_id', fields.BigIntField(null=True)),
                ('progress_message_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'broadcasts', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A message from the operators to many traders: its words per language, who gets it, and'},
            bases=['Model'],
        ),
    ]
