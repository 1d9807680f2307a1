from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from services.models.ledger import AccountKind, HoldState
from services.models.rates import EstimateBasis
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

# Rules the ORM cannot express: DB defaults for the raw-SQL writers, CHECKs, and the
# triggers that make the ledger balanced, insert-only and self-consistent (services/ledger/).
# Tortoise also proposed dropping and re-adding users.id here (its generated=False quirk, see
# 0002); that is not part of this change and was left out.
LEDGER_SQL = r"""
-- Column defaults: the ledger writes with raw SQL, so the database supplies them.
ALTER TABLE ledger_accounts ALTER COLUMN balance SET DEFAULT 0,
    ALTER COLUMN owner SET DEFAULT '', ALTER COLUMN asset SET DEFAULT 'USDT',
    ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE ledger_entries ALTER COLUMN tx_id SET DEFAULT txid_current(),
    ALTER COLUMN memo SET DEFAULT '', ALTER COLUMN actor SET DEFAULT 'system',
    ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE ledger_holds ALTER COLUMN state SET DEFAULT 'pending',
    ALTER COLUMN asset SET DEFAULT 'USDT', ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE ledger_checks ALTER COLUMN checked_at SET DEFAULT now();
ALTER TABLE rebate_accruals ALTER COLUMN updated_at SET DEFAULT now();

-- Value rules.
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_valid CHECK (kind IN (
    'trader_available', 'trader_held', 'service_revenue', 'exchange_receivable',
    'payouts_in_transit', 'fees', 'suspense'));
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_trader_nonnegative
    CHECK (kind NOT IN ('trader_available', 'trader_held') OR balance >= 0);
ALTER TABLE ledger_postings ADD CONSTRAINT ledger_postings_amount_nonzero CHECK (amount <> 0);
ALTER TABLE ledger_holds ADD CONSTRAINT ledger_holds_amount_positive CHECK (amount > 0);
ALTER TABLE ledger_holds ADD CONSTRAINT ledger_holds_state_valid
    CHECK (state IN ('pending', 'posted', 'voided'));
ALTER TABLE ledger_holds ADD CONSTRAINT ledger_holds_fee_valid
    CHECK (fee IS NULL OR (fee >= 0 AND fee <= amount));
ALTER TABLE rate_exchange_shares ADD CONSTRAINT rate_exchange_shares_share_valid
    CHECK (share BETWEEN 0 AND 1);
ALTER TABLE rate_group_shares ADD CONSTRAINT rate_group_shares_share_valid
    CHECK (share BETWEEN 0 AND 1);
ALTER TABLE rate_trader_shares ADD CONSTRAINT rate_trader_shares_share_valid
    CHECK (share BETWEEN 0 AND 1);
ALTER TABLE rate_estimates ADD CONSTRAINT rate_estimates_rate_valid CHECK (rate >= 0);
ALTER TABLE rebate_accruals ADD CONSTRAINT rebate_accruals_split_valid
    CHECK (gross = trader_amount + service_amount AND share BETWEEN 0 AND 1);

-- Entries and postings are insert-only: corrections are reversing entries.
CREATE FUNCTION ledger_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % is insert-only (% rejected)', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER ledger_entries_insert_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_postings_insert_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();

-- An account's identity never changes, and its cached balance moves only through the postings
-- trigger below (which runs at trigger depth 1, so this guard sees depth 2).
CREATE FUNCTION ledger_accounts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.kind, NEW.owner, NEW.asset, NEW.created_at)
            IS DISTINCT FROM (OLD.id, OLD.kind, OLD.owner, OLD.asset, OLD.created_at) THEN
        RAISE EXCEPTION 'ledger: account % cannot change its identity', OLD.id;
    END IF;
    IF NEW.balance <> OLD.balance AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'ledger: the balance of account % changes only through postings', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_accounts_guard BEFORE UPDATE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_accounts_guard();

-- Balanced entries, checked at COMMIT. Every statement inserting entries registers its
-- transaction in ledger_commit_checks; the deferred constraint trigger on that row runs once per
-- transaction and checks all of its entries set-based (at least two postings, zero per asset).
CREATE TABLE ledger_commit_checks (tx_id bigint PRIMARY KEY);

CREATE FUNCTION ledger_register_tx() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_commit_checks (tx_id) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_register_tx BEFORE INSERT ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_register_tx();

-- tx_id must be the inserting transaction, or an entry could hide from the commit check.
CREATE FUNCTION ledger_entries_own_tx() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_entries WHERE tx_id IS DISTINCT FROM txid_current()) THEN
        RAISE EXCEPTION 'ledger: an entry''s tx_id must be the inserting transaction';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_own_tx AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_own_tx();

-- Set-based and bounded: the transaction's entries by the tx_id index, their postings by one
-- range of the entry_id index (never a scan of the whole postings table, whose size grows).
CREATE FUNCTION ledger_check_tx() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
    first_entry bigint;
    last_entry bigint;
    bad_entry bigint;
BEGIN
    SELECT min(id), max(id) INTO first_entry, last_entry
    FROM ledger_entries WHERE tx_id = NEW.tx_id;
    SELECT legs.entry_id INTO bad_entry
    FROM (
        SELECT e.id AS entry_id, a.asset, count(p.id) AS n, sum(p.amount) AS total
        FROM ledger_entries e
        LEFT JOIN ledger_postings p
            ON p.entry_id = e.id AND p.entry_id BETWEEN first_entry AND last_entry
        LEFT JOIN ledger_accounts a ON a.id = p.account_id
        WHERE e.tx_id = NEW.tx_id
        GROUP BY e.id, a.asset
    ) AS legs
    GROUP BY legs.entry_id
    HAVING sum(legs.n) < 2 OR bool_or(legs.total <> 0)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: entry % is unbalanced or has fewer than two postings', bad_entry
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
    END IF;
    -- Forget the transaction, so the marker table stays empty (a later statement of the same
    -- transaction registers it again).
    DELETE FROM ledger_commit_checks WHERE tx_id = NEW.tx_id;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_commit_checks
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_tx();

-- Postings: set-based per statement. They may only join an entry of the same transaction (so
-- the commit check sees them), must name existing accounts, and move the cached balances in the
-- same statement. The CHECK on ledger_accounts then rejects a negative trader balance.
-- (Bounded like the commit check: each named entry is looked up once, by primary key.)
CREATE FUNCTION ledger_postings_apply() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
    accounts_named int;
    accounts_moved int;
BEGIN
    IF EXISTS (
        SELECT 1 FROM (SELECT DISTINCT entry_id FROM new_postings) p
        LEFT JOIN ledger_entries e ON e.id = p.entry_id
        WHERE e.id IS NULL OR e.tx_id <> txid_current()
    ) THEN
        RAISE EXCEPTION 'ledger: postings may only be added to an entry of the same transaction';
    END IF;
    SELECT count(DISTINCT account_id) INTO accounts_named FROM new_postings;
    UPDATE ledger_accounts a SET balance = a.balance + d.delta
    FROM (SELECT account_id, sum(amount) AS delta FROM new_postings GROUP BY account_id) AS d
    WHERE a.id = d.account_id;
    GET DIAGNOSTICS accounts_moved = ROW_COUNT;
    IF accounts_moved <> accounts_named THEN
        RAISE EXCEPTION 'ledger: a posting names an account that does not exist';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_postings_apply AFTER INSERT ON ledger_postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_apply();

-- A hold resolves exactly once: only pending → posted/voided, and only the resolution columns
-- change.
CREATE FUNCTION ledger_holds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger: holds are never deleted';
    END IF;
    IF OLD.state <> 'pending' OR NEW.state NOT IN ('posted', 'voided') THEN
        RAISE EXCEPTION 'ledger: hold % cannot go from % to %', OLD.id, OLD.state, NEW.state;
    END IF;
    IF (NEW.id, NEW.key, NEW.user_id, NEW.asset, NEW.amount, NEW.hold_entry_id, NEW.created_at)
            IS DISTINCT FROM
       (OLD.id, OLD.key, OLD.user_id, OLD.asset, OLD.amount, OLD.hold_entry_id, OLD.created_at)
    THEN
        RAISE EXCEPTION 'ledger: hold % may only change its resolution', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_holds_guard BEFORE UPDATE OR DELETE ON ledger_holds
    FOR EACH ROW EXECUTE FUNCTION ledger_holds_guard();
"""

LEDGER_REVERSE_SQL = r"""
DROP TRIGGER IF EXISTS ledger_holds_guard ON ledger_holds;
DROP TRIGGER IF EXISTS ledger_postings_apply ON ledger_postings;
DROP TRIGGER IF EXISTS ledger_entries_own_tx ON ledger_entries;
DROP TRIGGER IF EXISTS ledger_entries_register_tx ON ledger_entries;
DROP TRIGGER IF EXISTS ledger_accounts_guard ON ledger_accounts;
DROP TRIGGER IF EXISTS ledger_accounts_no_delete ON ledger_accounts;
DROP TRIGGER IF EXISTS ledger_postings_insert_only ON ledger_postings;
DROP TRIGGER IF EXISTS ledger_entries_insert_only ON ledger_entries;
DROP TABLE IF EXISTS ledger_commit_checks;
DROP FUNCTION IF EXISTS ledger_holds_guard(), ledger_postings_apply(), ledger_check_tx(),
    ledger_entries_own_tx(), ledger_register_tx(), ledger_accounts_guard(),
    ledger_reject_change();
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0002_sync_and_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EstimateRate',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('exchange_id', fields.CharField(max_length=16)),
                ('product', fields.CharField(max_length=16)),
                ('basis', fields.CharEnumField(description='FEE: fee\nVOLUME: volume', enum_type=EstimateBasis, max_length=8)),
                ('rate', fields.DecimalField(max_digits=14, decimal_places=10)),
                ('valid_from', fields.DateField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rate_estimates', 'app': 'models', 'unique_together': (('exchange_id', 'product', 'valid_from'),), 'pk_attr': 'id', 'table_description': 'What we expect to earn where the exchange reports volume/fees but not our commission.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExchangeShareHistory',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('exchange_id', fields.CharField(max_length=16)),
                ('share', fields.DecimalField(max_digits=7, decimal_places=6)),
                ('valid_from', fields.DateField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rate_exchange_shares', 'app': 'models', 'unique_together': (('exchange_id', 'valid_from'),), 'pk_attr': 'id', 'table_description': "The exchange's default trader share from a day on (Exchange.trader_share is the current"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerAccount',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='TRADER_AVAILABLE: trader_available\nTRADER_HELD: trader_held\nSERVICE_REVENUE: service_revenue\nEXCHANGE_RECEIVABLE: exchange_receivable\nPAYOUTS_IN_TRANSIT: payouts_in_transit\nFEES: fees\nSUSPENSE: suspense', enum_type=AccountKind, max_length=24)),
                ('owner', fields.CharField(default='', max_length=64)),
                ('asset', fields.CharField(default='USDT', max_length=16)),
                ('balance', fields.DecimalField(default=0, max_digits=30, decimal_places=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ledger_accounts', 'app': 'models', 'unique_together': (('kind', 'owner', 'asset'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerCheck',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('checked_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('ok', fields.BooleanField()),
                ('payouts_frozen', fields.BooleanField()),
                ('violations', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('duration_ms', fields.IntField(default=0)),
            ],
            options={'table': 'ledger_checks', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One run of the invariant check (insert-only); the newest row decides whether payouts are'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('idempotency_key', fields.CharField(unique=True, max_length=255)),
                ('kind', fields.CharField(max_length=32)),
                ('content_hash', fields.CharField(max_length=64)),
                ('memo', fields.TextField(default='', unique=False)),
                ('actor', fields.CharField(default='system', max_length=64)),
                ('tx_id', fields.BigIntField(db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ledger_entries', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerHold',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('user_id', fields.BigIntField(db_index=True)),
                ('asset', fields.CharField(default='USDT', max_length=16)),
                ('amount', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('state', fields.CharEnumField(default=HoldState.PENDING, description='PENDING: pending\nPOSTED: posted\nVOIDED: voided', enum_type=HoldState, max_length=8)),
                ('fee', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('hold_entry_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ledger_holds', 'app': 'models', 'indexes': [Index(fields=['state', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A two-phase transfer: available → held, then posted (paid out) or voided, exactly once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerPosting',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('entry_id', fields.BigIntField(db_index=True)),
                ('account_id', fields.BigIntField()),
                ('amount', fields.DecimalField(max_digits=30, decimal_places=8)),
            ],
            options={'table': 'ledger_postings', 'app': 'models', 'indexes': [Index(fields=['account_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RateGroup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rate_groups', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A VIP tier: a custom trader share per exchange (or for all) for its members.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RateGroupMember',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('group_id', fields.BigIntField(null=True)),
                ('valid_from', fields.DateField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rate_group_members', 'app': 'models', 'unique_together': (('user_id', 'valid_from'),), 'pk_attr': 'id', 'table_description': "A trader's group from a day on (group_id NULL: in no group from that day)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RateGroupShare',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('group_id', fields.BigIntField()),
                ('exchange_id', fields.CharField(max_length=16)),
                ('share', fields.DecimalField(null=True, max_digits=7, decimal_places=6)),
                ('valid_from', fields.DateField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rate_group_shares', 'app': 'models', 'unique_together': (('group_id', 'exchange_id', 'valid_from'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RebateAccrual',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('record_id', fields.BigIntField(unique=True)),
                ('user_id', fields.BigIntField()),
                ('exchange_id', fields.CharField(max_length=16)),
                ('day', fields.DateField()),
                ('product', fields.CharField(max_length=16)),
                ('revision', fields.IntField()),
                ('volume_usdt', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('fee_usdt', fields.DecimalField(null=True, max_digits=30, decimal_places=8)),
                ('gross', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('trader_amount', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('service_amount', fields.DecimalField(max_digits=30, decimal_places=8)),
                ('share', fields.DecimalField(max_digits=7, decimal_places=6)),
                ('share_source', fields.CharField(max_length=16)),
                ('estimated', fields.BooleanField()),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'rebate_accruals', 'app': 'models', 'indexes': [Index(fields=['user_id', 'day'])], 'pk_attr': 'id', 'table_description': 'What is booked in the ledger for one commission record: the totals after the last booking'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TraderShare',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('exchange_id', fields.CharField(max_length=16)),
                ('share', fields.DecimalField(null=True, max_digits=7, decimal_places=6)),
                ('valid_from', fields.DateField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rate_trader_shares', 'app': 'models', 'unique_together': (('user_id', 'exchange_id', 'valid_from'),), 'pk_attr': 'id', 'table_description': 'A per-trader share (share NULL: the override ends that day).'},
            bases=['Model'],
        ),
        ops.RunSQL(sql=LEDGER_SQL, reverse_sql=LEDGER_REVERSE_SQL),
    ]
