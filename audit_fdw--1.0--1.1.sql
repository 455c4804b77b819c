/* audit_fdw--1.0--1.1.sql: from 1.0 to 1.1 (ALTER EXTENSION audit_fdw UPDATE TO '1.1') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION audit_fdw UPDATE TO '1.1'" to load this file. \quit

-- A fresh CREATE EXTENSION of 1.1 runs audit_fdw--1.0.sql and then this
-- script, so an installation made new and one updated from 1.0 are the same.
-- Each section below names the change it belongs to.

-- ---------------------------------------------------------------------------
-- Security: query_log filters by user as a security barrier, so that no
-- function or failing cast in a caller's WHERE clause sees another user's
-- rows before the filter has run.  A later section that adds columns
-- redefines the view with CREATE OR REPLACE VIEW, which replaces the
-- view's options too: it must keep WITH (security_barrier = true).
-- ---------------------------------------------------------------------------
ALTER VIEW query_log SET (security_barrier = true);

-- ---------------------------------------------------------------------------
-- Pump: pg_dump keeps the pipelines, their checkpoints and dead letters.
-- The rows are the pump's state (where each shard is); without them a
-- restored database would start every pipeline over from TRIM_HORIZON.
-- pg_dump orders the data of these tables by their foreign keys.
-- ---------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.pipeline', '');
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.dead_letter', '');
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.dead_letter_id_seq', '');

-- ---------------------------------------------------------------------------
-- The catalog explains itself: one line for every function, table, view
-- and the wrapper, shown by \df+, \dt+, \dv+ and \dew+.
-- ---------------------------------------------------------------------------
COMMENT ON FOREIGN DATA WRAPPER audit_fdw IS
'Athena tables over S3 (the audit records of DynamoDB streams) as foreign tables, with WHERE, joins, grouping, ORDER BY and LIMIT run in Athena';
COMMENT ON FUNCTION audit_fdw_handler() IS
'the planner and executor callbacks of the audit_fdw foreign data wrapper';
COMMENT ON FUNCTION audit_fdw_validator(text[], oid) IS
'checks the options of audit_fdw servers, user mappings, foreign tables and columns when they are set';
COMMENT ON FUNCTION aws_identity(name) IS
'which AWS identity a server uses for the current user (STS GetCallerIdentity): where the credentials came from, key id, account, ARN';
COMMENT ON FUNCTION aws_request(name, text, text, jsonb) IS
'one AWS JSON API call (dynamodb, dynamodbstreams, firehose, glue, athena) with the current user''s credentials for a server';
COMMENT ON FUNCTION s3_get_object(name, text) IS
'the body of an S3 object s3://bucket/key, read with the current user''s credentials for a server';
COMMENT ON FUNCTION s3_list_objects(name, text) IS
'the objects under s3://bucket/prefix (every page of ListObjectsV2): key, size, last modified, ETag';
COMMENT ON FUNCTION s3_object_size(name, text) IS
'the size in bytes of an S3 object (HeadObject), NULL when there is none';
COMMENT ON FUNCTION s3_put_object(name, text, bytea) IS
'writes an S3 object s3://bucket/key (PutObject) with the current user''s credentials for a server';
COMMENT ON FUNCTION create_pipeline(text, text, text, text, text, text, integer, interval, text) IS
'starts pumping a DynamoDB table''s stream into a Firehose delivery stream, as the caller''s user mapping for the server';
COMMENT ON FUNCTION pause_pipeline(text) IS
'stops reading a pipeline''s stream, keeping its checkpoints; resume_pipeline goes on from them';
COMMENT ON FUNCTION resume_pipeline(text) IS
'goes on reading a paused pipeline''s stream from its checkpoints';
COMMENT ON FUNCTION drop_pipeline(text, boolean) IS
'stops a pipeline and deletes it with its checkpoints and dead letters (the records already in S3 stay)';
COMMENT ON FUNCTION skip_trimmed_gap(text, text) IS
'after a trimmed gap stopped a shard: accepts the loss and reads on from the oldest record the stream still has';
COMMENT ON TABLE query_log_entries IS
'one row per Athena query run through a foreign table; read it through the view query_log';
COMMENT ON VIEW query_log IS
'your Athena queries (everybody''s for pg_read_all_stats): when, the SQL as Athena ran it, bytes scanned, time and cost';
COMMENT ON TABLE pipeline IS
'the pipelines: which DynamoDB stream goes into which Firehose delivery stream, as whose user mapping, running or paused';
COMMENT ON TABLE checkpoint IS
'per pipeline and shard: the last sequence number Firehose acknowledged, counters, lag and a trimmed gap if any';
COMMENT ON TABLE dead_letter IS
'stream records a pipeline could not deliver (over Firehose''s 1,000 KiB, unreadable), kept whole with the reason';
COMMENT ON VIEW pipeline_status IS
'one row per pipeline and shard: state, checkpoint, records read, delivered, retried and dead-lettered, lag, last error';

-- ---------------------------------------------------------------------------
-- The query log keeps failed and cancelled queries: each row says how the
-- query ended (state) and why (reason: Athena's, or the PostgreSQL error
-- that stopped it).  A cancelled query costs what it scanned; a failed one
-- costs nothing.  The rows of 1.0 were all of succeeded queries.
-- ---------------------------------------------------------------------------
ALTER TABLE query_log_entries
    ADD COLUMN state text NOT NULL DEFAULT 'SUCCEEDED'
        CHECK (state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')),
    ADD COLUMN reason text;

CREATE OR REPLACE VIEW query_log WITH (security_barrier = true) AS
  SELECT logged_at, username, server, foreign_table, query_id, athena_sql,
         bytes_scanned, pg_size_pretty(bytes_scanned) AS data_scanned,
         engine_ms, queue_ms, cost_usd, transport, reused, state, reason
    FROM query_log_entries
   WHERE username = current_user
      OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER');
COMMENT ON VIEW query_log IS
'your Athena queries (everybody''s for pg_read_all_stats): when, the SQL as Athena ran it, how it ended and why, bytes scanned, time and cost';

-- ---------------------------------------------------------------------------
-- Cost at scale: event-time partitions.  create_delivery_stream and
-- create_audit_table take a layout: 'delivery_time' (Firehose's delivery
-- hour, as in 1.0, the default) or 'event_time' (each record in the folder of
-- its own event_time's hour, by Firehose dynamic partitioning), so that both
-- time bounds of a query prune folders exactly.  The functions gain the
-- argument at the end, with the old behaviour as its default.
-- ---------------------------------------------------------------------------
DROP FUNCTION create_audit_table(name, text, text, text, text, text, interval);
CREATE FUNCTION create_audit_table(
	server name,
	table_name text,
	location text,
	item_columns text,
	database text DEFAULT NULL,
	key_columns text DEFAULT NULL,
	history interval DEFAULT '1 year',
	layout text DEFAULT 'delivery_time')
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_audit_table'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION create_audit_table(name, text, text, text, text, text, interval, text) IS
'creates the Glue table (JSON SerDe, partition projection) of a pipeline''s audit records, in delivery-hour or event-hour folders (layout)';

DROP FUNCTION create_delivery_stream(name, text, text, text, integer, integer, boolean);
CREATE FUNCTION create_delivery_stream(
	server name,
	name text,
	location text,
	role_arn text,
	buffer_seconds integer DEFAULT 60,
	buffer_mb integer DEFAULT 5,
	wait boolean DEFAULT true,
	layout text DEFAULT 'delivery_time')
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_delivery_stream'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION create_delivery_stream(name, text, text, text, integer, integer, boolean, text) IS
'creates the Firehose delivery stream of a pipeline''s audit records, into delivery-hour or (layout => ''event_time'') event-hour folders';

-- ---------------------------------------------------------------------------
-- Pump: failures are states.  Each shard, and each pipeline for errors that
-- are no shard's, has a health: ok; retrying (transient errors: throttling,
-- 5xx, network); failing (an error that retrying does not fix, or transient
-- errors for over a minute); the view adds stopped (a trimmed gap, a paused
-- pipeline, or one the pump does not run in this database).  Errors are
-- counted per operation and AWS error code in pump_error.  The checkpoint
-- row also holds the GetRecords traffic (calls, throttled calls, calls per
-- second, records per call), the records sent again after a restart apart
-- from first deliveries, and the time of the oldest record handed to
-- Firehose but not yet acknowledged, from which the lag is computed.
-- ---------------------------------------------------------------------------
ALTER TABLE audit_fdw.checkpoint
    ADD COLUMN health text NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'retrying', 'failing')),
    ADD COLUMN health_since timestamptz,
    ADD COLUMN oldest_unacknowledged_time timestamptz,
    ADD COLUMN sent_sequence_number text,
    ADD COLUMN records_resent bigint NOT NULL DEFAULT 0,
    ADD COLUMN get_records_calls bigint NOT NULL DEFAULT 0,
    ADD COLUMN get_records_throttled bigint NOT NULL DEFAULT 0,
    ADD COLUMN get_records_per_second double precision,
    ADD COLUMN records_per_call double precision;
COMMENT ON COLUMN audit_fdw.checkpoint.health IS
    'ok, retrying (transient errors) or failing (an error retrying does not fix, or transient errors for over a minute)';
COMMENT ON COLUMN audit_fdw.checkpoint.oldest_unacknowledged_time IS
    'ApproximateCreationDateTime of the oldest record handed to Firehose and not yet acknowledged';
COMMENT ON COLUMN audit_fdw.checkpoint.sent_sequence_number IS
    'The last sequence number handed to Firehose; records up to it read again after a restart count as resent';
COMMENT ON COLUMN audit_fdw.checkpoint.records_resent IS
    'Of records_delivered, the records sent once before by a reader that stopped before its checkpoint (duplicates in S3)';

ALTER TABLE audit_fdw.pipeline
    ADD COLUMN health text NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'retrying', 'failing')),
    ADD COLUMN health_since timestamptz;
COMMENT ON COLUMN audit_fdw.pipeline.health IS
    'Health of the errors that are no shard''s (the server, credentials, DescribeStream)';

CREATE TABLE audit_fdw.pump_error (
    pipeline text NOT NULL REFERENCES audit_fdw.pipeline (name) ON DELETE CASCADE,
    shard_id text NOT NULL,             -- '' for the pipeline's own errors
    operation text NOT NULL,
    code text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('retry', 'failure')),
    count bigint NOT NULL DEFAULT 0,
    last_message text,
    last_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (pipeline, shard_id, operation, code, kind)
);
COMMENT ON TABLE audit_fdw.pump_error IS
    'how often each AWS operation of a pipeline failed, per shard, AWS error code and kind (retry: throttling, 5xx, network; failure: the others)';
REVOKE ALL ON audit_fdw.pump_error FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('audit_fdw.pump_error', '');

CREATE FUNCTION audit_fdw.pump_runs_here() RETURNS boolean
AS 'MODULE_PATHNAME', 'audit_fdw_pump_runs_here' LANGUAGE C STABLE;
COMMENT ON FUNCTION audit_fdw.pump_runs_here() IS
    'whether the pump runs the pipelines of this database (audit_fdw preloaded and audit_fdw.database naming it)';

CREATE OR REPLACE VIEW audit_fdw.pipeline_status AS
SELECT p.name AS pipeline,
       CASE WHEN p.state = 'running' AND NOT audit_fdw.pump_runs_here() THEN 'not pumped here'
            ELSE p.state END AS pipeline_state,
       p.source_table,
       p.delivery_stream,
       c.shard_id,
       c.parent_shard_id,
       CASE
           WHEN c.shard_id IS NULL THEN NULL
           WHEN c.state = 'reading' AND c.parent_shard_id IS NOT NULL
                AND EXISTS (SELECT 1 FROM audit_fdw.checkpoint pc
                             WHERE pc.pipeline = c.pipeline
                               AND pc.shard_id = c.parent_shard_id
                               AND pc.state <> 'drained') THEN 'waiting for parent'
           WHEN c.state = 'reading' AND p.state = 'paused' THEN 'paused'
           ELSE c.state
       END AS state,
       c.sequence_number AS checkpoint_sequence_number,
       c.records_read,
       c.records_delivered,
       c.records_retried,
       c.records_dead_lettered,
       CASE
           WHEN c.state <> 'reading' THEN NULL
           WHEN c.oldest_unacknowledged_time IS NOT NULL
               THEN GREATEST(pg_catalog.date_part('epoch', pg_catalog.now() - c.oldest_unacknowledged_time), 0)
           WHEN c.health <> 'ok' OR p.health <> 'ok'
               THEN GREATEST(pg_catalog.date_part('epoch', pg_catalog.now() -
                        COALESCE(c.last_record_time, c.health_since, p.health_since, p.created_at)), 0)
           ELSE c.lag_seconds
       END AS lag_seconds,
       c.last_record_time,
       c.gap_after_sequence_number,
       c.gap_before_sequence_number,
       COALESCE(c.last_error, p.last_error,
                CASE WHEN p.state = 'running' AND NOT audit_fdw.pump_runs_here()
                     THEN pg_catalog.format('the pump runs the pipelines of database %s (audit_fdw.database), not of this one',
                                            pg_catalog.quote_ident(pg_catalog.current_setting('audit_fdw.database', true)))
                END) AS last_error,
       CASE WHEN c.last_error IS NOT NULL THEN c.last_error_at ELSE p.last_error_at END AS last_error_at,
       c.updated_at,
       CASE
           WHEN p.state = 'paused' OR NOT audit_fdw.pump_runs_here() OR c.state = 'stopped' THEN 'stopped'
           WHEN c.health = 'failing' OR p.health = 'failing' THEN 'failing'
           WHEN c.health = 'retrying' OR p.health = 'retrying' THEN 'retrying'
           ELSE 'ok'
       END AS health,
       CASE WHEN c.health <> 'ok' THEN c.health_since
            WHEN p.health <> 'ok' THEN p.health_since END AS health_since,
       c.records_resent,
       c.get_records_calls,
       c.get_records_throttled,
       c.get_records_per_second,
       c.records_per_call,
       (SELECT COALESCE(pg_catalog.sum(e.count), 0) FROM audit_fdw.pump_error e
         WHERE e.pipeline = p.name AND e.shard_id IN (COALESCE(c.shard_id, ''), '')
           AND e.kind = 'retry')::bigint AS retries,
       (SELECT COALESCE(pg_catalog.sum(e.count), 0) FROM audit_fdw.pump_error e
         WHERE e.pipeline = p.name AND e.shard_id IN (COALESCE(c.shard_id, ''), '')
           AND e.kind = 'failure')::bigint AS failures,
       (SELECT pg_catalog.jsonb_object_agg(e.operation || ' ' || e.code, e.count)
          FROM audit_fdw.pump_error e
         WHERE e.pipeline = p.name AND e.shard_id IN (COALESCE(c.shard_id, ''), ''))
           AS errors_by_code
  FROM audit_fdw.pipeline p
  LEFT JOIN audit_fdw.checkpoint c ON c.pipeline = p.name
 ORDER BY p.name, c.shard_id;

-- One row per metric and label set, in the form a monitoring agent scrapes
-- (Prometheus names: counters end in _total).
CREATE VIEW audit_fdw.pump_metrics AS
SELECT m.metric, m.labels, m.value
  FROM audit_fdw.pipeline_status s,
       LATERAL (VALUES
           ('audit_fdw_pipeline_health', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id, 'health', s.health), 1::double precision),
           ('audit_fdw_lag_seconds', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.lag_seconds),
           ('audit_fdw_records_read_total', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.records_read::double precision),
           ('audit_fdw_records_delivered_total', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.records_delivered::double precision),
           ('audit_fdw_records_resent_total', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.records_resent::double precision),
           ('audit_fdw_records_retried_total', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.records_retried::double precision),
           ('audit_fdw_records_dead_lettered_total', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.records_dead_lettered::double precision),
           ('audit_fdw_get_records_calls_total', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.get_records_calls::double precision),
           ('audit_fdw_get_records_throttled_total', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.get_records_throttled::double precision),
           ('audit_fdw_get_records_per_second', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.get_records_per_second),
           ('audit_fdw_records_per_call', pg_catalog.jsonb_build_object('pipeline', s.pipeline, 'shard', s.shard_id), s.records_per_call)
       ) AS m (metric, labels, value)
 WHERE s.shard_id IS NOT NULL OR m.metric = 'audit_fdw_pipeline_health'
UNION ALL
SELECT 'audit_fdw_errors_total',
       pg_catalog.jsonb_build_object('pipeline', e.pipeline, 'shard', NULLIF(e.shard_id, ''),
                                     'operation', e.operation, 'code', e.code, 'kind', e.kind),
       e.count::double precision
  FROM audit_fdw.pump_error e;
COMMENT ON VIEW audit_fdw.pump_metrics IS
    'the pump''s metrics for a monitoring agent: one row per metric and labels (pipeline, shard; for errors operation, AWS error code, kind)';
GRANT SELECT ON audit_fdw.pump_metrics TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Pump: create_pipeline checks the source stream (DescribeStream: enabled)
-- and the delivery stream (DescribeDeliveryStream: exists, active, takes
-- PutRecordBatch) at once, and refuses a second pipeline over a stream
-- unless share_stream => true.  The function gains that argument; whoever
-- could execute the 1.0 function can execute the new one.
-- ---------------------------------------------------------------------------
ALTER FUNCTION audit_fdw.create_pipeline(text, text, text, text, text, text, integer, interval, text)
    RENAME TO create_pipeline_1_0;

CREATE FUNCTION audit_fdw.create_pipeline(
    name text,
    server text,
    source_table text DEFAULT NULL,
    delivery_stream text DEFAULT NULL,
    stream_arn text DEFAULT NULL,
    starting_position text DEFAULT 'TRIM_HORIZON',
    batch_size integer DEFAULT 500,
    max_batching_window interval DEFAULT '1 second',
    on_trimmed_gap text DEFAULT 'stop',
    share_stream boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'audit_fdw_create_pipeline'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION audit_fdw.create_pipeline(text, text, text, text, text, text, integer, interval, text, boolean) IS
    'starts pumping a DynamoDB table''s stream into a Firehose delivery stream, checking both at once; share_stream allows a second pipeline over a stream';
REVOKE EXECUTE ON FUNCTION audit_fdw.create_pipeline(text, text, text, text, text, text, integer, interval, text, boolean)
    FROM PUBLIC;

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee, a.is_grantable
          FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
         WHERE p.oid OPERATOR(pg_catalog.=) 'audit_fdw.create_pipeline_1_0(text, text, text, text, text, text, integer, interval, text)'::pg_catalog.regprocedure
           AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
           AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION audit_fdw.create_pipeline(text, text, text, text, text, text, integer, interval, text, boolean) TO %s%s',
            CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'
                 ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
            CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;

DROP FUNCTION audit_fdw.create_pipeline_1_0(text, text, text, text, text, text, integer, interval, text);

-- ---------------------------------------------------------------------------
-- Pump: pause and resume are deterministic however close together: each
-- moves the pipeline's generation, and a reader that sees a new generation
-- exits (the supervisor starts a new one, with the configuration as it is
-- then).
-- ---------------------------------------------------------------------------
ALTER TABLE audit_fdw.pipeline ADD COLUMN generation bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN audit_fdw.pipeline.generation IS
    'Moves on every pause and resume; the readers of an older generation exit';
