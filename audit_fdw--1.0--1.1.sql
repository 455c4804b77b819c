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
