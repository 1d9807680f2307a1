from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

# The audit log's hash chain, kept by the database whoever inserts: under one advisory lock a
# row gets the next place (seq), the hash of the row before it, and sha256 over both and its
# own fields, each written as "<length>:<text>" so no two rows read the same. Rows written
# before this migration are chained in id order. services/audit_chain.py checks the chain.
CHAIN_SQL = r"""
CREATE FUNCTION audit_log_part(value text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT length(coalesce(value, '')) || ':' || coalesce(value, '') $$;
CREATE FUNCTION audit_log_hash(seq bigint, prev_hash text, actor_id bigint, action text,
                               object_type text, object_id text, before jsonb, after jsonb,
                               created_at timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT encode(sha256(convert_to(
       audit_log_part(seq::text) || audit_log_part(prev_hash) || audit_log_part(actor_id::text)
       || audit_log_part(action) || audit_log_part(object_type) || audit_log_part(object_id)
       || audit_log_part(before::text) || audit_log_part(after::text)
       || audit_log_part(floor(extract(epoch FROM created_at) * 1000000)::bigint::text),
       'UTF8')), 'hex') $$;
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(7294019);  -- one writer at a time extends the chain
    SELECT a.seq, a.row_hash INTO last_seq, last_hash
        FROM audit_log a WHERE a.seq IS NOT NULL ORDER BY a.seq DESC LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
    NEW.created_at := coalesce(NEW.created_at, now());
    NEW.row_hash := audit_log_hash(NEW.seq, NEW.prev_hash, NEW.actor_id, NEW.action,
                                   NEW.object_type, NEW.object_id, NEW.before, NEW.after,
                                   NEW.created_at);
    RETURN NEW;
END $$;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
DO $$
DECLARE
    entry record;
    place bigint := 0;
    last_hash text := repeat('0', 64);
BEGIN
    FOR entry IN SELECT * FROM audit_log ORDER BY id LOOP
        place := place + 1;
        UPDATE audit_log SET seq = place, prev_hash = last_hash,
               row_hash = audit_log_hash(place, last_hash, entry.actor_id, entry.action,
                                         entry.object_type, entry.object_id, entry.before,
                                         entry.after, entry.created_at)
            WHERE id = entry.id RETURNING row_hash INTO last_hash;
    END LOOP;
END $$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
"""
CHAIN_REVERSE_SQL = r"""
DROP TRIGGER IF EXISTS audit_log_chain ON audit_log;
DROP FUNCTION IF EXISTS audit_log_chain();
DROP FUNCTION IF EXISTS audit_log_hash(bigint, text, bigint, text, text, text, jsonb, jsonb,
                                       timestamptz);
DROP FUNCTION IF EXISTS audit_log_part(text);
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0006_withdrawal_request_key')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='AuditEntry',
            options={'table': 'audit_log', 'app': 'models', 'indexes': [Index(fields=['object_type', 'object_id'])], 'pk_attr': 'id', 'table_description': 'Append-only (a trigger refuses UPDATE and DELETE) and hash-chained (an edited or deleted'},
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='prev_hash',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='row_hash',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='seq',
            field=fields.BigIntField(null=True, unique=True),
        ),
        ops.RunSQL(sql=CHAIN_SQL, reverse_sql=CHAIN_REVERSE_SQL),
    ]
