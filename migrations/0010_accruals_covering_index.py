from tortoise import migrations
from tortoise.migrations import operations as ops

# rebate_accruals' (user_id, day) index, now carrying the figures a trader's screens sum, so
# the dashboard's and the balance's reads touch only the index (bench/bench_miniapp.py: a
# trader's 60 days read 7 pages instead of 36). Tortoise cannot declare INCLUDE: SQL here.
COVERING_SQL = r"""
CREATE INDEX rebate_accruals_user_day_cover ON rebate_accruals (user_id, day)
    INCLUDE (exchange_id, volume_usdt, fee_usdt, gross, trader_amount, estimated);
"""
COVERING_REVERSE_SQL = r"""
DROP INDEX IF EXISTS rebate_accruals_user_day_cover;
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0009_broadcasts')]

    initial = False

    operations = [
        ops.RunSQL(sql=COVERING_SQL, reverse_sql=COVERING_REVERSE_SQL),
        ops.RemoveIndex(
            model_name='RebateAccrual',
            name=None,
            fields=['user_id', 'day'],
        ),
    ]
