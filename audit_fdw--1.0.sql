/* audit_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION audit_fdw" to load this file. \quit

-- The extension lives in its own schema, audit_fdw (see audit_fdw.control).

--
-- AWS client core: checking a setup
--

-- Which AWS identity a server uses for the current user, through STS
-- GetCallerIdentity: where the credentials came from, the access key id
-- (never the secret), the account and the ARN.
CREATE FUNCTION aws_identity(server name,
    OUT source text, OUT access_key_id text, OUT account text, OUT arn text,
    OUT user_id text)
RETURNS record
AS 'MODULE_PATHNAME', 'audit_fdw_aws_identity'
LANGUAGE C STRICT VOLATILE;

-- One AWS JSON call (dynamodb, dynamodbstreams, firehose, glue, athena)
-- with the server's credentials for the current user, as the AWS CLI would
-- make it.  Granted to no one by default: it reaches whatever the
-- credentials reach.
CREATE FUNCTION aws_request(server name, service text, operation text,
    request jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'audit_fdw_aws_request'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION aws_request(name, text, text, jsonb) FROM PUBLIC;

-- An S3 object (s3://bucket/key), read as a stream.  Granted to no one by
-- default, like aws_request.
CREATE FUNCTION s3_get_object(server name, uri text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'audit_fdw_s3_get_object'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION s3_get_object(name, text) FROM PUBLIC;

-- The objects under s3://bucket/prefix (every page of ListObjectsV2): where
-- Firehose wrote the audit records, what a query left in its output
-- location.  Granted to no one by default, like aws_request.
CREATE FUNCTION s3_list_objects(server name, uri text)
RETURNS TABLE (key text, size bigint, last_modified timestamptz, etag text)
AS 'MODULE_PATHNAME', 'audit_fdw_s3_list_objects'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION s3_list_objects(name, text) FROM PUBLIC;

-- The size of an object (HeadObject), NULL when there is none.
CREATE FUNCTION s3_object_size(server name, uri text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'audit_fdw_s3_object_size'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION s3_object_size(name, text) FROM PUBLIC;

-- Write an object (PutObject).
CREATE FUNCTION s3_put_object(server name, uri text, body bytea)
RETURNS void
AS 'MODULE_PATHNAME', 'audit_fdw_s3_put_object'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION s3_put_object(name, text, bytea) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- The foreign data wrapper over Athena (src/fdw)
-- ---------------------------------------------------------------------------

CREATE FUNCTION audit_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION audit_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER audit_fdw
  HANDLER audit_fdw_handler
  VALIDATOR audit_fdw_validator;

-- One row per Athena query run through a foreign table.  Written by the
-- extension itself (users cannot write it); read through query_log.
CREATE TABLE query_log_entries (
    logged_at     timestamptz NOT NULL,
    username      name NOT NULL,
    server        name NOT NULL,
    foreign_table text NOT NULL,
    query_id      text NOT NULL,
    athena_sql    text NOT NULL,
    bytes_scanned bigint NOT NULL,
    engine_ms     bigint NOT NULL,
    queue_ms      bigint NOT NULL,
    cost_usd      numeric NOT NULL,
    transport     text NOT NULL,
    reused        boolean NOT NULL
);
REVOKE ALL ON query_log_entries FROM PUBLIC;

-- Who ran which audit query, when, and what it cost.  Everyone sees their
-- own queries; members of pg_read_all_stats see everybody's.
CREATE VIEW query_log AS
  SELECT logged_at, username, server, foreign_table, query_id, athena_sql,
         bytes_scanned, pg_size_pretty(bytes_scanned) AS data_scanned,
         engine_ms, queue_ms, cost_usd, transport, reused
    FROM query_log_entries
   WHERE username = current_user
      OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER');
GRANT SELECT ON query_log TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Provisioning: the AWS resources of a pipeline, created from SQL
-- (src/provision/).  Both functions are idempotent and act with the
-- caller's user mapping for the server; they need USAGE on the server.
-- ---------------------------------------------------------------------------

-- The Glue table over a pipeline's audit records: JSON SerDe, the audit
-- record's columns with new_image/old_image as struct<item_columns> and
-- keys as struct<key_columns> (default: the first item column),
-- and partition projection over Firehose's YYYY/MM/dd/HH/ folders (no
-- crawler).  Returns 'created' or 'unchanged'.
CREATE FUNCTION create_audit_table(
	server name,
	table_name text,
	location text,
	item_columns text,
	database text DEFAULT NULL,
	key_columns text DEFAULT NULL,
	history interval DEFAULT '1 year')
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_audit_table'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION create_audit_table(name, text, text, text, text, text, interval) IS
'creates the Glue database and table (JSON SerDe, partition projection) that hold a pipeline''s audit records';

-- The Firehose delivery stream a pipeline writes to: DirectPut, into S3 at
-- location with Firehose's default YYYY/MM/dd/HH/ folders.  Returns
-- 'created' or 'unchanged'.
CREATE FUNCTION create_delivery_stream(
	server name,
	name text,
	location text,
	role_arn text,
	buffer_seconds integer DEFAULT 60,
	buffer_mb integer DEFAULT 5,
	wait boolean DEFAULT true)
RETURNS text
AS 'MODULE_PATHNAME', 'audit_fdw_create_delivery_stream'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION create_delivery_stream(name, text, text, text, integer, integer, boolean) IS
'creates the Firehose delivery stream that writes a pipeline''s audit records to S3';

-- ---------------------------------------------------------------------------
-- The pump: pipelines that move a DynamoDB stream into Firehose
-- (src/pump/).  Managing pipelines needs EXECUTE on the management
-- functions, which only a superuser (or whoever the superuser lets) grants;
-- the tables are not readable by PUBLIC; pipeline_status is, and holds no
-- credentials (those stay in the user mapping of the pipeline's owner).
-- ---------------------------------------------------------------------------

CREATE TABLE pipeline (
    name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
    server_name text NOT NULL,
    owner oid NOT NULL,                 -- role whose user mapping signs the calls
    source_table text NOT NULL,         -- the DynamoDB table
    stream_arn text NOT NULL,
    delivery_stream text NOT NULL,
    starting_position text NOT NULL DEFAULT 'TRIM_HORIZON'
        CHECK (starting_position IN ('TRIM_HORIZON', 'LATEST')),
    batch_size integer NOT NULL DEFAULT 500 CHECK (batch_size BETWEEN 1 AND 500),
    max_batching_window interval NOT NULL DEFAULT '1 second'
        CHECK (max_batching_window BETWEEN '0' AND '300 seconds'),
    on_trimmed_gap text NOT NULL DEFAULT 'stop' CHECK (on_trimmed_gap IN ('stop', 'skip')),
    state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused')),
    last_error text,
    last_error_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per shard of a pipeline's stream: where the pump is in that shard
-- (the last sequence number Firehose acknowledged) and its counters, all
-- written in one transaction.
CREATE TABLE checkpoint (
    pipeline text NOT NULL REFERENCES pipeline (name) ON DELETE CASCADE,
    shard_id text NOT NULL,
    parent_shard_id text,
    state text NOT NULL DEFAULT 'reading'
        CHECK (state IN ('reading', 'drained', 'stopped')),
    initial boolean NOT NULL DEFAULT false,     -- open when the pipeline started
    skip_gap boolean NOT NULL DEFAULT false,    -- the user accepted a trimmed gap
    sequence_number text,                       -- last record delivered
    ending_sequence_number text,                -- set once the shard is closed
    records_read bigint NOT NULL DEFAULT 0,
    records_delivered bigint NOT NULL DEFAULT 0,
    records_retried bigint NOT NULL DEFAULT 0,
    records_dead_lettered bigint NOT NULL DEFAULT 0,
    last_record_time timestamptz,               -- ApproximateCreationDateTime
    lag_seconds double precision,
    gap_after_sequence_number text,             -- a trimmed gap: records after this one
    gap_before_sequence_number text,            -- and before this one are lost
    gap_detected_at timestamptz,
    last_error text,
    last_error_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, shard_id)
);

-- Records the pump could not deliver (over Firehose's 1,000 KiB record
-- limit, or not a stream record it can read): kept here, never dropped.
CREATE TABLE dead_letter (
    id bigserial PRIMARY KEY,
    pipeline text NOT NULL REFERENCES pipeline (name) ON DELETE CASCADE,
    shard_id text NOT NULL,
    sequence_number text NOT NULL,
    event_id text,
    reason text NOT NULL,
    record_bytes integer NOT NULL,
    record text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON dead_letter (pipeline, shard_id);

REVOKE ALL ON pipeline, checkpoint, dead_letter FROM PUBLIC;

CREATE VIEW pipeline_status AS
SELECT p.name AS pipeline,
       p.state AS pipeline_state,
       p.source_table,
       p.delivery_stream,
       c.shard_id,
       c.parent_shard_id,
       CASE
           WHEN c.shard_id IS NULL THEN NULL
           WHEN c.state = 'reading' AND c.parent_shard_id IS NOT NULL
                AND EXISTS (SELECT 1 FROM checkpoint pc
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
       CASE WHEN c.state = 'reading' THEN c.lag_seconds END AS lag_seconds,
       c.last_record_time,
       c.gap_after_sequence_number,
       c.gap_before_sequence_number,
       COALESCE(c.last_error, p.last_error) AS last_error,
       CASE WHEN c.last_error IS NOT NULL THEN c.last_error_at ELSE p.last_error_at END AS last_error_at,
       c.updated_at
  FROM pipeline p
  LEFT JOIN checkpoint c ON c.pipeline = p.name
 ORDER BY p.name, c.shard_id;

GRANT SELECT ON pipeline_status TO PUBLIC;

CREATE FUNCTION create_pipeline(
    name text,
    server text,
    source_table text DEFAULT NULL,
    delivery_stream text DEFAULT NULL,
    stream_arn text DEFAULT NULL,
    starting_position text DEFAULT 'TRIM_HORIZON',
    batch_size integer DEFAULT 500,
    max_batching_window interval DEFAULT '1 second',
    on_trimmed_gap text DEFAULT 'stop')
RETURNS void
AS 'MODULE_PATHNAME', 'audit_fdw_create_pipeline'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pause_pipeline(name text) RETURNS void
AS 'MODULE_PATHNAME', 'audit_fdw_pause_pipeline' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION resume_pipeline(name text) RETURNS void
AS 'MODULE_PATHNAME', 'audit_fdw_resume_pipeline' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION drop_pipeline(name text, if_exists boolean DEFAULT false) RETURNS void
AS 'MODULE_PATHNAME', 'audit_fdw_drop_pipeline' LANGUAGE C STRICT VOLATILE;

-- After a trimmed gap stopped a shard: accept the loss and go on from the
-- oldest record the stream still has (one shard, or every stopped shard).
CREATE FUNCTION skip_trimmed_gap(pipeline text, shard_id text DEFAULT NULL) RETURNS integer
AS 'MODULE_PATHNAME', 'audit_fdw_skip_trimmed_gap' LANGUAGE C CALLED ON NULL INPUT VOLATILE;

REVOKE EXECUTE ON FUNCTION create_pipeline(text, text, text, text, text, text, integer, interval, text),
    pause_pipeline(text), resume_pipeline(text), drop_pipeline(text, boolean),
    skip_trimmed_gap(text, text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Privileges of the schema itself.  query_log and pipeline_status are
-- granted to PUBLIC above, which means nothing without USAGE on the
-- schema; every object that acts (pipelines, raw AWS calls, the tables
-- behind the views) has its own grant, revoked from PUBLIC.
-- ---------------------------------------------------------------------------
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
