/* audit_fdw--1.1--1.2.sql: from 1.1 to 1.2 (ALTER EXTENSION audit_fdw UPDATE TO '1.2') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION audit_fdw UPDATE TO '1.2'" to load this file. \quit

-- A fresh CREATE EXTENSION of 1.2 runs audit_fdw--1.0.sql, then
-- audit_fdw--1.0--1.1.sql and this script, so an installation made new and
-- one updated from 1.0 or 1.1 are the same.  Each section below names the
-- change it belongs to.

-- ---------------------------------------------------------------------------
-- Pump: a dead letter's text is valid in the database's encoding whatever
-- bytes the record had (a record is often dead because its bytes are
-- wrong); the column comments say how such bytes are written.
-- ---------------------------------------------------------------------------
COMMENT ON COLUMN audit_fdw.dead_letter.record IS
    'the record as it came, as text: in a UTF-8 database valid characters as they are, otherwise non-ASCII as JSON \uXXXX escapes; NUL as \u0000, invalid UTF-8 bytes as \xNN';
COMMENT ON COLUMN audit_fdw.dead_letter.record_bytes IS
    'the record''s length in bytes as it came, before any escaping';

-- ---------------------------------------------------------------------------
-- Cost at scale: key buckets.  create_audit_table and create_delivery_stream
-- take key_buckets (0, 16, 256 or 4096; event-time layout only): a folder
-- under each event hour for the last hex digits of the key_hash the pump
-- writes for the key (SHA-256 of its value), so that a query for one key
-- reads 1/N of the folders.  create_delivery_stream also takes the key
-- attribute (bucket_key).  The functions gain the arguments at the end,
-- with no buckets as their default.
-- ---------------------------------------------------------------------------
DROP FUNCTION create_audit_table(name, text, text, text, text, text, interval, text);
CREATE FUNCTION create_audit_table(
	server name,
	table_name text,
	location text,
	item_columns text,
	database text DEFAULT NULL,
	key_columns text DEFAULT NULL,
	history interval DEFAULT '1 year',
	layout text DEFAULT 'delivery_time',
	key_buckets integer DEFAULT 0)
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_audit_table'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION create_audit_table(name, text, text, text, text, text, interval, text, integer) IS
'creates the Glue table of a pipeline''s audit records: delivery-hour or event-hour folders (layout), key buckets (key_buckets)';

DROP FUNCTION create_delivery_stream(name, text, text, text, integer, integer, boolean, text);
CREATE FUNCTION create_delivery_stream(
	server name,
	name text,
	location text,
	role_arn text,
	buffer_seconds integer DEFAULT 60,
	buffer_mb integer DEFAULT 5,
	wait boolean DEFAULT true,
	layout text DEFAULT 'delivery_time',
	key_buckets integer DEFAULT 0,
	bucket_key text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_delivery_stream'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION create_delivery_stream(name, text, text, text, integer, integer, boolean, text, integer, text) IS
'creates the Firehose stream of a pipeline''s audit records: delivery-hour or event-hour folders (layout), key buckets (key_buckets)';

-- ---------------------------------------------------------------------------
-- Backfill: a snapshot of the source table written into the audit table as
-- SNAPSHOT records (new_image = the item, event_time = when it was read,
-- sequence_number '' before every stream record's), through the
-- pipeline's delivery stream.  A parallel Scan whose segments background
-- workers read at a limited rate (read capacity units a second); each
-- segment's progress (its LastEvaluatedKey) is checkpointed after every
-- page Firehose acknowledged, so a restart resumes where it was.
-- ---------------------------------------------------------------------------
CREATE TABLE audit_fdw.backfill (
    id bigserial PRIMARY KEY,
    pipeline text NOT NULL REFERENCES audit_fdw.pipeline (name) ON DELETE CASCADE,
    state text NOT NULL DEFAULT 'running'
        CHECK (state IN ('running', 'cancelled', 'done')),
    reason text NOT NULL DEFAULT 'requested',
    total_segments integer NOT NULL CHECK (total_segments BETWEEN 1 AND 1000),
    workers integer NOT NULL CHECK (workers BETWEEN 1 AND 64),
    read_rate double precision CHECK (read_rate > 0),
    capacity_share double precision NOT NULL DEFAULT 0.5
        CHECK (capacity_share > 0 AND capacity_share <= 1),
    table_item_count bigint,
    requested_by oid NOT NULL,
    started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    finished_at timestamptz,
    last_error text,
    last_error_at timestamptz
);
CREATE UNIQUE INDEX backfill_one_running ON audit_fdw.backfill (pipeline)
    WHERE state = 'running';
COMMENT ON TABLE audit_fdw.backfill IS
    'snapshots of a pipeline''s source table written as SNAPSHOT records (audit_fdw.backfill()); one running at a time per pipeline';
COMMENT ON COLUMN audit_fdw.backfill.read_rate IS
    'read capacity units a second the scan may consume; NULL until the workers read the table''s capacity (capacity_share of a provisioned table''s, 1000 for an on-demand table)';
COMMENT ON COLUMN audit_fdw.backfill.reason IS
    'requested, or the trimmed gap (pipeline on_trimmed_gap ''snapshot'') that started it';

CREATE TABLE audit_fdw.backfill_segment (
    backfill bigint NOT NULL REFERENCES audit_fdw.backfill (id) ON DELETE CASCADE,
    segment integer NOT NULL,
    state text NOT NULL DEFAULT 'scanning' CHECK (state IN ('scanning', 'done')),
    last_evaluated_key text,
    pages bigint NOT NULL DEFAULT 0,
    items_read bigint NOT NULL DEFAULT 0,
    records_delivered bigint NOT NULL DEFAULT 0,
    records_dead_lettered bigint NOT NULL DEFAULT 0,
    consumed_capacity double precision NOT NULL DEFAULT 0,
    throttled bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (backfill, segment)
);
COMMENT ON TABLE audit_fdw.backfill_segment IS
    'per segment of a backfill''s parallel Scan: the LastEvaluatedKey of the last page Firehose acknowledged, and counters';
COMMENT ON COLUMN audit_fdw.backfill_segment.last_evaluated_key IS
    'the Scan''s LastEvaluatedKey (DynamoDB JSON) after the last page delivered; NULL before the first page and once done';

REVOKE ALL ON audit_fdw.backfill, audit_fdw.backfill_segment FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.backfill', '');
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.backfill_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.backfill_segment', '');

CREATE VIEW audit_fdw.backfill_status AS
SELECT b.pipeline,
       b.id AS backfill,
       b.state,
       b.reason,
       b.total_segments AS segments,
       s.segments_done,
       s.items_read,
       s.records_delivered,
       s.records_dead_lettered,
       s.consumed_capacity,
       s.throttled,
       b.read_rate,
       b.table_item_count,
       e.seconds AS elapsed_seconds,
       CASE WHEN e.seconds > 0 THEN s.items_read / e.seconds END AS items_per_second,
       CASE WHEN e.seconds > 0 THEN s.consumed_capacity / e.seconds END AS capacity_per_second,
       CASE WHEN b.state = 'done' THEN 0
            WHEN e.seconds > 0 AND s.items_read > 0 AND b.table_item_count IS NOT NULL
            THEN GREATEST(b.table_item_count - s.items_read, 0)
                 / (s.items_read / e.seconds)
       END AS eta_seconds,
       b.started_at,
       b.finished_at,
       b.last_error,
       b.last_error_at
  FROM audit_fdw.backfill b
  CROSS JOIN LATERAL (
       SELECT pg_catalog.count(*) FILTER (WHERE g.state = 'done') AS segments_done,
              pg_catalog.sum(g.items_read)::bigint AS items_read,
              pg_catalog.sum(g.records_delivered)::bigint AS records_delivered,
              pg_catalog.sum(g.records_dead_lettered)::bigint AS records_dead_lettered,
              pg_catalog.sum(g.consumed_capacity) AS consumed_capacity,
              pg_catalog.sum(g.throttled)::bigint AS throttled
         FROM audit_fdw.backfill_segment g WHERE g.backfill = b.id) s
  CROSS JOIN LATERAL (
       SELECT pg_catalog.date_part('epoch',
                  COALESCE(b.finished_at, pg_catalog.now()) - b.started_at) AS seconds) e
 ORDER BY b.pipeline, b.id;
GRANT SELECT ON audit_fdw.backfill_status TO PUBLIC;
COMMENT ON VIEW audit_fdw.backfill_status IS
    'per backfill: segments done, items read, records delivered, consumed capacity, rates and an ETA from DescribeTable''s ItemCount';

CREATE FUNCTION audit_fdw.backfill(
    pipeline text,
    segments integer DEFAULT 4,
    read_rate double precision DEFAULT NULL,
    capacity_share double precision DEFAULT 0.5)
RETURNS bigint
AS 'MODULE_PATHNAME', 'audit_fdw_backfill' LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION audit_fdw.backfill(text, integer, double precision, double precision) IS
    'starts a snapshot of the pipeline''s source table as SNAPSHOT records, a parallel Scan at read_rate capacity units a second; returns its id';

CREATE FUNCTION audit_fdw.cancel_backfill(pipeline text) RETURNS bigint
AS 'MODULE_PATHNAME', 'audit_fdw_cancel_backfill' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION audit_fdw.cancel_backfill(text) IS
    'stops the pipeline''s running backfill, keeping its progress; returns its id';

CREATE FUNCTION audit_fdw.resume_backfill(pipeline text) RETURNS bigint
AS 'MODULE_PATHNAME', 'audit_fdw_resume_backfill' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION audit_fdw.resume_backfill(text) IS
    'goes on with the pipeline''s last cancelled backfill from each segment''s checkpoint; returns its id';

REVOKE EXECUTE ON FUNCTION audit_fdw.backfill(text, integer, double precision, double precision),
    audit_fdw.cancel_backfill(text), audit_fdw.resume_backfill(text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Backfill: the state of every item at a time T, from an audit table that
-- holds SNAPSHOT and stream records: each key's latest record with
-- event_time <= T, ordered by event_time, then SNAPSHOT before stream
-- records, then sequence_number (as a number); keys whose latest record is
-- a REMOVE are left out.  The table (a foreign table over the audit
-- records, or any table or view with their columns) needs keys,
-- event_name, event_time and sequence_number; event_id and new_image are
-- returned when it has them.  event_time <= T is a condition the foreign
-- table can send to Athena.
-- ---------------------------------------------------------------------------
CREATE FUNCTION audit_fdw.state_as_of(audit_table regclass, at timestamptz)
RETURNS TABLE (keys jsonb, event_name text, event_time timestamptz,
               sequence_number text, event_id text, new_image jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    types jsonb;
    missing text[];
    key_expr text;
    image_expr text;
    id_expr text;
    time_expr text;
    time_cond text;
BEGIN
    SELECT jsonb_object_agg(a.attname, format_type(a.atttypid, NULL))
      INTO types
      FROM pg_attribute a
     WHERE a.attrelid = audit_table AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT array_agg(c) INTO missing
      FROM unnest(ARRAY['keys', 'event_name', 'event_time', 'sequence_number']) c
     WHERE NOT coalesce(types ? c, false);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'table % has no column %', audit_table, array_to_string(missing, ', ')
              USING ERRCODE = 'undefined_column',
                    HINT = 'state_as_of reads an audit table: keys, event_name, event_time and sequence_number, as the pipeline writes them.';
    END IF;
    key_expr := CASE types->>'keys'
                    WHEN 'jsonb' THEN 'keys'
                    WHEN 'json' THEN 'keys::jsonb'
                    WHEN 'text' THEN 'keys::jsonb'
                    WHEN 'character varying' THEN 'keys::jsonb'
                    ELSE 'to_jsonb(keys)' END;
    image_expr := CASE coalesce(types->>'new_image', '')
                    WHEN '' THEN 'NULL::jsonb'
                    WHEN 'jsonb' THEN 'new_image'
                    WHEN 'json' THEN 'new_image::jsonb'
                    WHEN 'text' THEN 'new_image::jsonb'
                    WHEN 'character varying' THEN 'new_image::jsonb'
                    ELSE 'to_jsonb(new_image)' END;
    id_expr := CASE WHEN types ? 'event_id' THEN 'event_id::text' ELSE 'NULL::text' END;
    -- Athena's timestamps are UTC: a timestamp column is read as UTC
    IF types->>'event_time' = 'timestamp without time zone' THEN
        time_expr := '(event_time AT TIME ZONE ''UTC'')';
        time_cond := 'event_time <= ($1 AT TIME ZONE ''UTC'')';
    ELSE
        time_expr := 'event_time::timestamptz';
        time_cond := 'event_time <= $1';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT k, n, t, s, i, img FROM ('
        '  SELECT DISTINCT ON (k) %1$s AS k, event_name::text AS n, %2$s AS t,'
        '         sequence_number::text AS s, %3$s AS i, %4$s AS img'
        '    FROM %5$s WHERE %6$s'
        '   ORDER BY k, t DESC, (event_name::text = ''SNAPSHOT''),'
        '            length(sequence_number::text) DESC, sequence_number::text DESC) latest'
        ' WHERE n IS DISTINCT FROM ''REMOVE'' ORDER BY k',
        key_expr, time_expr, id_expr, image_expr, audit_table, time_cond)
    USING at;
END
$$;
COMMENT ON FUNCTION audit_fdw.state_as_of(regclass, timestamptz) IS
    'each item''s latest record at a time from an audit table with SNAPSHOT and stream records; items removed by then left out';

-- ---------------------------------------------------------------------------
-- Backfill: the gap policy 'snapshot'.  When a shard's records were trimmed
-- before the pump read them, the pump records the gap, goes on from the
-- oldest record left (as 'skip' does) and starts a backfill of the whole
-- table, whose SNAPSHOT records hold every item's state after the gap.
-- ---------------------------------------------------------------------------
ALTER TABLE audit_fdw.pipeline DROP CONSTRAINT pipeline_on_trimmed_gap_check;
ALTER TABLE audit_fdw.pipeline ADD CONSTRAINT pipeline_on_trimmed_gap_check
    CHECK (on_trimmed_gap IN ('stop', 'skip', 'snapshot'));
COMMENT ON COLUMN audit_fdw.pipeline.on_trimmed_gap IS
    'after records were trimmed before they were read: stop the shard, skip the gap, or skip it and backfill a snapshot of the table';
