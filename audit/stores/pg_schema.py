"""PostgreSQL schema for the ledger: tables, append-only triggers, the append function, grants.

Hardening, and why:

* Triggers raise on UPDATE and DELETE (per row) and TRUNCATE (per statement) of
  ``audit_events``, ``audit_checkpoints`` and ``audit_keys``: even the table owner
  cannot rewrite history by accident or through a compromised migration.
* The application role gets SELECT only. It appends through ``audit_append``, a
  ``SECURITY DEFINER`` function that takes the head row lock, computes the leaf and
  chain hashes itself from the bytes it is given, and inserts; so a compromised
  application can add events but never forge a broken or forked chain.
  ``UNIQUE (prev_hash)`` is a second fork guard. A resent batch (its commit was lost with
  the connection) trips ``UNIQUE (event_id)`` and is answered by ``audit_append_retried``
  with the stored rows; that helper is granted to no role, only ``audit_append`` calls it.
* Every function pins ``search_path`` so a caller cannot shadow the tables it uses.

* ``CHECK (audit_columns_agree(…))`` holds the columns queries select on (ts, actor,
  tenant, session, type, event_id) to the canonical bytes: disabling the triggers does not
  disable it, so an edited actor or tenant needs edited bytes too, which the chain shows.

Only someone who can disable triggers (a superuser, or the owner via ALTER TABLE) can
edit rows; verification against signed checkpoints (and their WORM copies) catches that,
and also checks every column against the bytes, in case the CHECK was dropped.
``install_schema`` is idempotent so a migration can call it on every upgrade.
"""

from __future__ import annotations

import re
from typing import Any

_IDENT = re.compile(r"\A[a-z_][a-z0-9_]{0,62}\Z")

_TABLES = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.audit_events (
    seq bigint PRIMARY KEY CHECK (seq >= 0),
    event_id text NOT NULL UNIQUE,
    ts text NOT NULL,
    actor text NOT NULL,
    tenant text,
    session text,
    type text NOT NULL,
    canonical bytea NOT NULL,
    leaf_hash bytea NOT NULL CHECK (octet_length(leaf_hash) = 32),
    prev_hash bytea NOT NULL UNIQUE CHECK (octet_length(prev_hash) = 32),
    chain_hash bytea NOT NULL CHECK (octet_length(chain_hash) = 32)
);
CREATE INDEX IF NOT EXISTS audit_events_session ON {s}.audit_events (session, seq);
CREATE INDEX IF NOT EXISTS audit_events_actor ON {s}.audit_events (actor, seq);
CREATE INDEX IF NOT EXISTS audit_events_type ON {s}.audit_events (type, seq);
CREATE INDEX IF NOT EXISTS audit_events_ts ON {s}.audit_events (ts);
CREATE TABLE IF NOT EXISTS {s}.audit_head (
    id smallint PRIMARY KEY CHECK (id = 1),
    size bigint NOT NULL,
    chain_hash bytea NOT NULL
);
INSERT INTO {s}.audit_head VALUES (1, 0, decode(repeat('00', 32), 'hex'))
    ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS {s}.audit_checkpoints (
    size bigint PRIMARY KEY, root bytea NOT NULL, head bytea NOT NULL,
    ts text NOT NULL, key_id text NOT NULL, signature bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.audit_keys (
    key_id text PRIMARY KEY, public_key bytea NOT NULL, added timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {s}.audit_pending (
    id bigserial PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    canonical bytea NOT NULL,
    ts text NOT NULL,
    actor text NOT NULL,
    tenant text,
    session text,
    type text NOT NULL,
    submitted timestamptz NOT NULL DEFAULT now()
);
"""

_TRIGGERS = """
CREATE OR REPLACE FUNCTION {s}.audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'audit ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE OR REPLACE FUNCTION {s}.audit_head_forward() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF NEW.size < OLD.size THEN
        RAISE EXCEPTION 'audit head cannot move back' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
"""

_PER_TABLE = """
CREATE OR REPLACE TRIGGER {t}_no_change BEFORE UPDATE OR DELETE ON {s}.{t}
    FOR EACH ROW EXECUTE FUNCTION {s}.audit_refuse_change();
CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {s}.{t}
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit_refuse_change();
"""

_HEAD_TRIGGERS = """
CREATE OR REPLACE TRIGGER audit_head_no_delete BEFORE DELETE ON {s}.audit_head
    FOR EACH ROW EXECUTE FUNCTION {s}.audit_refuse_change();
CREATE OR REPLACE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON {s}.audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit_refuse_change();
CREATE OR REPLACE TRIGGER audit_head_forward BEFORE UPDATE ON {s}.audit_head
    FOR EACH ROW EXECUTE FUNCTION {s}.audit_head_forward();
"""

_FUNCTIONS = """
CREATE OR REPLACE FUNCTION {s}.audit_append(
    p_ids text[], p_canonical bytea[], p_ts text[], p_actor text[],
    p_tenant text[], p_session text[], p_type text[])
RETURNS TABLE (seq bigint, canonical bytea, leaf_hash bytea, prev_hash bytea, chain_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {s}, pg_catalog, pg_temp AS $$
DECLARE
    v_size bigint; v_start bytea; v_head bytea; v_leaf bytea; v_constraint text;
    a_leaf bytea[]; a_prev bytea[] := '{{}}'; a_chain bytea[] := '{{}}';
BEGIN
    -- The head-row lock serialises every writer: the chain cannot fork.
    SELECT h.size, h.chain_hash INTO v_size, v_start FROM audit_head h WHERE h.id = 1 FOR UPDATE;
    -- The hashes are computed here, from the bytes given, never taken from the caller:
    -- leaf hashes in one set-based pass, then the chain, which is sequential by nature.
    a_leaf := ARRAY(SELECT sha256('\\x00'::bytea || u.c)
                    FROM unnest(p_canonical) WITH ORDINALITY AS u(c, pos) ORDER BY u.pos);
    v_head := v_start;
    FOREACH v_leaf IN ARRAY a_leaf LOOP
        a_prev := array_append(a_prev, v_head);  -- in place on plpgsql variables: O(1)
        v_head := sha256(v_head || v_leaf);
        a_chain := array_append(a_chain, v_head);
    END LOOP;
    BEGIN
        -- The usual case: no id is stored yet. UNIQUE (event_id) checks that as it inserts,
        -- so no lookup runs first (a cached generic plan for one turned into a sequential
        -- scan per batch on a table whose statistics predate its growth).
        INSERT INTO audit_events (seq, event_id, canonical, ts, actor, tenant, session, type,
                                  leaf_hash, prev_hash, chain_hash)
        SELECT v_size + u.pos - 1, u.id, u.canonical, u.ts, u.actor, u.tenant, u.session,
               u.type, u.leaf, u.prev, u.chain
        FROM unnest(p_ids, p_canonical, p_ts, p_actor, p_tenant, p_session, p_type,
                    a_leaf, a_prev, a_chain)
             WITH ORDINALITY AS u(id, canonical, ts, actor, tenant, session, type,
                                  leaf, prev, chain, pos);
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        IF v_constraint IS DISTINCT FROM 'audit_events_event_id_key' THEN
            RAISE;  -- the fork guard (prev_hash) or seq: never papered over
        END IF;
        RETURN QUERY SELECT * FROM audit_append_retried(
            p_ids, p_canonical, p_ts, p_actor, p_tenant, p_session, p_type, v_size, v_start);
        RETURN;
    END;
    UPDATE audit_head SET size = v_size + cardinality(a_leaf), chain_hash = v_head WHERE id = 1;
    RETURN QUERY
        SELECT v_size + u.pos - 1, u.c, u.l, u.p, u.h
        FROM unnest(p_canonical, a_leaf, a_prev, a_chain) WITH ORDINALITY AS u(c, l, p, h, pos);
END $$;

-- A batch some of whose ids are stored already (a retry after a lost commit): answer those
-- with what is stored, chain only the rest, one row at a time. Rare, so kept simple. Called
-- only from audit_append, which holds the head-row lock and passes the head it read; no
-- role may execute it directly (REVOKE below, no GRANT).
CREATE OR REPLACE FUNCTION {s}.audit_append_retried(
    p_ids text[], p_canonical bytea[], p_ts text[], p_actor text[],
    p_tenant text[], p_session text[], p_type text[], p_size bigint, p_head bytea)
RETURNS TABLE (seq bigint, canonical bytea, leaf_hash bytea, prev_hash bytea, chain_hash bytea)
LANGUAGE plpgsql SET search_path = {s}, pg_catalog, pg_temp AS $$
DECLARE
    v_size bigint := p_size; v_head bytea := p_head; v_leaf bytea; v_chain bytea; r record;
BEGIN
    -- Dynamic SQL is planned for each call with the table's real size (no stale plan).
    FOR r IN EXECUTE
        'SELECT u.id, u.canonical, u.ts, u.actor, u.tenant, u.session, u.type, '
        '       e.seq AS old_seq, e.canonical AS old_canonical, e.leaf_hash AS old_leaf, '
        '       e.prev_hash AS old_prev, e.chain_hash AS old_chain '
        'FROM unnest($1, $2, $3, $4, $5, $6, $7) WITH ORDINALITY '
        '     AS u(id, canonical, ts, actor, tenant, session, type, pos) '
        'LEFT JOIN audit_events e ON e.event_id = u.id ORDER BY u.pos'
        USING p_ids, p_canonical, p_ts, p_actor, p_tenant, p_session, p_type
    LOOP
        IF r.old_seq IS NOT NULL THEN
            seq := r.old_seq; canonical := r.old_canonical; leaf_hash := r.old_leaf;
            prev_hash := r.old_prev; chain_hash := r.old_chain;
            RETURN NEXT;
            CONTINUE;
        END IF;
        v_leaf := sha256('\\x00'::bytea || r.canonical);
        v_chain := sha256(v_head || v_leaf);
        INSERT INTO audit_events (seq, event_id, canonical, ts, actor, tenant, session, type,
                                  leaf_hash, prev_hash, chain_hash)
        VALUES (v_size, r.id, r.canonical, r.ts, r.actor, r.tenant, r.session, r.type,
                v_leaf, v_head, v_chain);
        seq := v_size; canonical := r.canonical; leaf_hash := v_leaf;
        prev_hash := v_head; chain_hash := v_chain;
        RETURN NEXT;
        v_head := v_chain;
        v_size := v_size + 1;
    END LOOP;
    UPDATE audit_head SET size = v_size, chain_hash = v_head WHERE id = 1;
END $$;

-- The CHECK behind audit_events_columns_agree: the columns queries select on (ts, actor,
-- tenant, session, type, event_id) must say what the canonical bytes say. A valid event's
-- bytes are {{"actor":A,"data":D,"id":I,"session":S,"tenant":T,"ts":TS,"type":TY,"v":1}},
-- and to_json(text) escapes exactly as JCS does, so the columns agree if and only if the
-- bytes start and end with these edges (audit/columns.py does the same in Python).
CREATE OR REPLACE FUNCTION {s}.audit_columns_agree(
    p_canonical bytea, p_ts text, p_actor text, p_tenant text, p_session text, p_type text,
    p_id text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $$
DECLARE
    v_text text := convert_from(p_canonical, 'UTF8');
    v_end text := ',"id":' || to_json(p_id)::text
        || ',"session":' || coalesce(to_json(p_session)::text, 'null')
        || ',"tenant":' || coalesce(to_json(p_tenant)::text, 'null')
        || ',"ts":' || to_json(p_ts)::text
        || ',"type":' || to_json(p_type)::text || ',"v":1}}';
BEGIN
    RETURN coalesce(
        starts_with(v_text, '{{"actor":' || to_json(p_actor)::text || ',"data":')
        AND right(v_text, length(v_end)) = v_end,
        false);
END $$;

-- Replicas that do not hold the sequencer lock queue their events here; the sequencer
-- drains them into the chain through audit_append, so every event still gets its place
-- from the one writer, and none twice (UNIQUE event_id here and in audit_events).
CREATE OR REPLACE FUNCTION {s}.audit_submit(
    p_ids text[], p_canonical bytea[], p_ts text[], p_actor text[],
    p_tenant text[], p_session text[], p_type text[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {s}, pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO audit_pending (event_id, canonical, ts, actor, tenant, session, type)
    SELECT * FROM unnest(p_ids, p_canonical, p_ts, p_actor, p_tenant, p_session, p_type)
        ORDER BY 1  -- a stable lock order between concurrent submitters
    ON CONFLICT (event_id) DO NOTHING;
    PERFORM pg_notify('audit_pending_{s}', '');
END $$;

-- The oldest pending events (at most p_limit) appended and removed in one transaction:
-- a drain whose commit is lost leaves them pending, and appending them again is
-- answered from the stored rows (audit_append is idempotent by event id).
CREATE OR REPLACE FUNCTION {s}.audit_drain(p_limit integer)
RETURNS TABLE (seq bigint, canonical bytea, leaf_hash bytea, prev_hash bytea, chain_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {s}, pg_catalog, pg_temp AS $$
DECLARE
    v_rows bigint[]; v_ids text[]; v_canonical bytea[]; v_ts text[]; v_actor text[];
    v_tenant text[]; v_session text[]; v_type text[];
BEGIN
    SELECT array_agg(p.id ORDER BY p.id), array_agg(p.event_id ORDER BY p.id),
           array_agg(p.canonical ORDER BY p.id), array_agg(p.ts ORDER BY p.id),
           array_agg(p.actor ORDER BY p.id), array_agg(p.tenant ORDER BY p.id),
           array_agg(p.session ORDER BY p.id), array_agg(p.type ORDER BY p.id)
    INTO v_rows, v_ids, v_canonical, v_ts, v_actor, v_tenant, v_session, v_type
    FROM (SELECT * FROM audit_pending ORDER BY id LIMIT p_limit FOR UPDATE SKIP LOCKED) p;
    IF v_rows IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM audit_append(
        v_ids, v_canonical, v_ts, v_actor, v_tenant, v_session, v_type);
    DELETE FROM audit_pending WHERE id = ANY(v_rows);
END $$;

CREATE OR REPLACE FUNCTION {s}.audit_add_key(p_key_id text, p_public bytea) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {s}, pg_catalog, pg_temp AS $$
BEGIN
    IF p_key_id <> left(encode(sha256(p_public), 'hex'), 16) THEN
        RAISE EXCEPTION 'key id % does not match the public key', p_key_id;
    END IF;
    INSERT INTO audit_keys (key_id, public_key) VALUES (p_key_id, p_public)
        ON CONFLICT (key_id) DO NOTHING;
END $$;

CREATE OR REPLACE FUNCTION {s}.audit_add_checkpoint(
    p_size bigint, p_root bytea, p_head bytea, p_ts text, p_key_id text, p_signature bytea)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {s}, pg_catalog, pg_temp AS $$
BEGIN
    -- A checkpoint must commit to the chain as stored: refuse one for a head we do not have.
    IF p_size > 0 AND NOT EXISTS (
        SELECT 1 FROM audit_events e WHERE e.seq = p_size - 1 AND e.chain_hash = p_head) THEN
        RAISE EXCEPTION 'checkpoint head does not match the log at size %', p_size;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit_keys k WHERE k.key_id = p_key_id) THEN
        RAISE EXCEPTION 'unknown signing key %', p_key_id;
    END IF;
    INSERT INTO audit_checkpoints VALUES (p_size, p_root, p_head, p_ts, p_key_id, p_signature)
        ON CONFLICT (size) DO NOTHING;
END $$;
"""

# Added NOT VALID (instant, and enforced on every new or updated row from then on), then
# validated over the stored rows once. Rows that already disagree cannot be fixed in an
# append-only table: the constraint then stays NOT VALID, with a warning, and
# verification names the first such row.
_COLUMNS_CHECK = """
DO $$
DECLARE v_valid boolean;
BEGIN
    SELECT c.convalidated INTO v_valid FROM pg_constraint c
    WHERE c.conrelid = '{s}.audit_events'::regclass AND c.conname = 'audit_events_columns_agree';
    IF v_valid IS NULL THEN
        ALTER TABLE {s}.audit_events ADD CONSTRAINT audit_events_columns_agree
            CHECK ({s}.audit_columns_agree(canonical, ts, actor, tenant, session, type, event_id))
            NOT VALID;
    END IF;
    IF NOT coalesce(v_valid, false) THEN
        BEGIN
            ALTER TABLE {s}.audit_events VALIDATE CONSTRAINT audit_events_columns_agree;
        EXCEPTION WHEN check_violation THEN
            RAISE WARNING 'audit_events holds rows whose columns disagree with their canonical '
                'bytes (edited): the check applies to new rows; warden audit verify --db '
                'names the first edited one';
        END;
    END IF;
END $$;
"""

_FUNCTION_SIGNATURES = (
    "audit_append(text[], bytea[], text[], text[], text[], text[], text[])",
    "audit_add_key(text, bytea)",
    "audit_add_checkpoint(bigint, bytea, bytea, text, text, bytea)",
    "audit_submit(text[], bytea[], text[], text[], text[], text[], text[])",
    "audit_drain(integer)",
)
# Internal helpers: revoked from PUBLIC and granted to nobody; only the functions above call them.
_INTERNAL_SIGNATURES = (
    "audit_append_retried(text[], bytea[], text[], text[], text[], text[], text[], bigint, bytea)",
    "audit_columns_agree(bytea, text, text, text, text, text, text)",
)
_TABLE_NAMES = (
    "audit_events", "audit_head", "audit_checkpoints", "audit_keys", "audit_pending",
)  # fmt: skip


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"{name!r} is not a plain lowercase SQL identifier")
    return name


def schema_sql(schema: str = "public", app_role: str | None = None) -> list[str]:
    """The idempotent DDL statements, in order (for migrations that want raw SQL)."""
    s = _ident(schema)
    statements = [_TABLES.format(s=s), _TRIGGERS.format(s=s)]
    for table in ("audit_events", "audit_checkpoints", "audit_keys"):
        statements.append(_PER_TABLE.format(s=s, t=table))
    statements += [_HEAD_TRIGGERS.format(s=s), _FUNCTIONS.format(s=s), _COLUMNS_CHECK.format(s=s)]
    tables = ", ".join(f"{s}.{t}" for t in _TABLE_NAMES)
    statements.append(f"REVOKE ALL ON {tables} FROM PUBLIC")
    for signature in _FUNCTION_SIGNATURES + _INTERNAL_SIGNATURES:
        statements.append(f"REVOKE ALL ON FUNCTION {s}.{signature} FROM PUBLIC")
    if app_role is not None:
        role = _ident(app_role)
        statements += [
            f"GRANT USAGE ON SCHEMA {s} TO {role}",
            # Read-only on every ledger table; writes happen only inside the functions.
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {tables} FROM {role}",
            f"GRANT SELECT ON {tables} TO {role}",
        ]
        for signature in _FUNCTION_SIGNATURES:
            statements.append(f"GRANT EXECUTE ON FUNCTION {s}.{signature} TO {role}")
    return statements


def install_schema(conn: Any, *, schema: str = "public", app_role: str | None = None) -> None:
    """Create or upgrade the ledger schema on a psycopg (or DB-API) connection; idempotent.

    Run it as the role that should own the tables (not the application role). With
    ``app_role``, that (existing) role is granted SELECT and EXECUTE on the functions only.
    The caller commits (an Alembic migration does; a plain psycopg connection: use
    ``with conn.transaction()`` or autocommit).
    """
    cursor = conn.cursor()
    # Concurrent installers would race on CREATE OR REPLACE; serialise them.
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext('warden.audit.install_schema'))")
    for statement in schema_sql(schema, app_role):
        cursor.execute(statement)
