from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from services.models.notifications import NotificationStatus
from services.models.sync import RecordOrigin, SyncRunStatus
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CommissionRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source_key', fields.CharField(unique=True, max_length=200)),
                ('exchange_id', fields.CharField(db_index=True, max_length=16)),
                ('uid', fields.CharField(max_length=64)),
                ('day', fields.DateField()),
                ('product', fields.CharField(max_length=16)),
                ('volume', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('fee', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('commission', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('currency', fields.CharField(max_length=16)),
                ('rate_to_usdt', fields.DecimalField(null=True, max_digits=30, decimal_places=12)),
                ('volume_usdt', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('fee_usdt', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('commission_usdt', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('origin', fields.CharEnumField(description='API: api\nCSV: csv', enum_type=RecordOrigin, max_length=8)),
                ('revision', fields.IntField(default=1)),
                ('first_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'commission_records', 'app': 'models', 'indexes': [Index(fields=['exchange_id', 'uid', 'day']), Index(fields=['exchange_id', 'day'])], 'pk_attr': 'id', 'table_description': "The current version of one invitee's numbers for one UTC day and product."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CommissionRevision',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('record_id', fields.BigIntField(db_index=True)),
                ('revision', fields.IntField()),
                ('volume', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('fee', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('commission', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('commission_usdt', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('origin', fields.CharEnumField(description='API: api\nCSV: csv', enum_type=RecordOrigin, max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'commission_revisions', 'app': 'models', 'unique_together': (('record_id', 'revision'),), 'pk_attr': 'id', 'table_description': 'Every version a record has had, insert-only (revision 1 is the first one seen).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dedupe_key', fields.CharField(unique=True, max_length=128)),
                ('chat_id', fields.BigIntField()),
                ('user_id', fields.BigIntField(null=True)),
                ('kind', fields.CharField(max_length=32)),
                ('text_key', fields.CharField(max_length=64)),
                ('params', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('silent', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=NotificationStatus.PENDING, description='PENDING: pending\nSENT: sent\nFAILED: failed', enum_type=NotificationStatus, max_length=8)),
                ('attempts', fields.IntField(default=0)),
                ('not_before', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notifications', 'app': 'models', 'indexes': [Index(fields=['status', 'not_before'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SyncRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('exchange_id', fields.CharField(max_length=16)),
                ('trigger', fields.CharField(max_length=16)),
                ('status', fields.CharEnumField(default=SyncRunStatus.RUNNING, description='RUNNING: running\nOK: ok\nFAILED: failed', enum_type=SyncRunStatus, max_length=8)),
                ('window_start', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('window_end', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('records_seen', fields.IntField(default=0)),
                ('records_new', fields.IntField(default=0)),
                ('records_changed', fields.IntField(default=0)),
                ('error_class', fields.CharField(null=True, max_length=32)),
                ('error', fields.TextField(null=True, unique=False)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sync_runs', 'app': 'models', 'indexes': [Index(fields=['exchange_id', 'started_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SyncState',
            fields=[
                ('exchange_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=16)),
                ('watermark', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_success_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('next_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sync_state', 'app': 'models', 'pk_attr': 'exchange_id', 'table_description': 'Per exchange: how far the sync has read (the watermark) and when it last succeeded.'},
            bases=['Model'],
        ),
    ]
