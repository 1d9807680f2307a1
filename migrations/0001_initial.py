from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from services.models.accounts import AccountStatus
from services.models.events import Platform
from services.models.exchanges import DataSource
from services.models.users import Role, SignupSource
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=48)),
                ('user_id', fields.BigIntField(null=True)),
                ('platform', fields.CharEnumField(description='BOT: bot\nWEBAPP: webapp\nWEB: web\nSYSTEM: system', enum_type=Platform, max_length=8)),
                ('properties', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'events', 'app': 'models', 'indexes': [Index(fields=['name', 'created_at']), Index(fields=['user_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'An analytics event: append-only, one row per meaningful action.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Exchange',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=16)),
                ('name', fields.CharField(max_length=64)),
                ('enabled', fields.BooleanField(default=True)),
                ('position', fields.IntField(default=0)),
                ('link_template', fields.CharField(max_length=512)),
                ('trader_share', fields.DecimalField(max_digits=5, decimal_places=4)),
                ('commission_rate', fields.DecimalField(null=True, max_digits=5, decimal_places=4)),
                ('min_withdrawal', fields.DecimalField(default=0, max_digits=20, decimal_places=8)),
                ('sync_interval_minutes', fields.IntField(default=240)),
                ('data_source', fields.CharEnumField(default=DataSource.API, description='API: api\nCSV: csv', enum_type=DataSource, max_length=8)),
                ('api_verified', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'exchanges', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One exchange we are an affiliate of, as configured by the operators.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.BigIntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(null=True, max_length=64)),
                ('first_name', fields.CharField(default='', max_length=128)),
                ('telegram_language', fields.CharField(null=True, max_length=16)),
                ('locale', fields.CharField(null=True, max_length=8)),
                ('role', fields.CharEnumField(default=Role.TRADER, description='TRADER: trader\nVIEWER: viewer\nOPS: ops\nFINANCE: finance\nADMIN: admin', enum_type=Role, max_length=16)),
                ('signup_source', fields.CharEnumField(default=SignupSource.ORGANIC, description='ORGANIC: organic\nINFLUENCER: influencer\nCHANNEL: channel\nPAID: paid\nREFERRAL: referral\nOTHER: other', enum_type=SignupSource, max_length=16)),
                ('signup_code', fields.CharField(null=True, max_length=64)),
                ('is_banned', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'users', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A person known to the bot; the primary key is their Telegram user id.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExchangeAccount',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.RESTRICT)),
                ('exchange', fields.ForeignKeyField('models.Exchange', source_field='exchange_id', db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.RESTRICT)),
                ('uid', fields.CharField(max_length=64)),
                ('status', fields.CharEnumField(default=AccountStatus.PENDING, description='PENDING: pending\nVERIFIED: verified\nREJECTED: rejected', enum_type=AccountStatus, max_length=16)),
                ('reject_reason', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('verified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('first_trade_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'exchange_accounts', 'app': 'models', 'unique_together': (('exchange', 'uid'),), 'indexes': [Index(fields=['user_id', 'exchange_id'])], 'pk_attr': 'id', 'table_description': "A trader's UID on an exchange. A UID belongs to one trader only (unique per exchange)."},
            bases=['Model'],
        ),
    ]
