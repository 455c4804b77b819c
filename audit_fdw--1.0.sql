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
-- Provisioning: the AWS resources of a pipeline, created from SQL
-- (src/provision/).  Both functions are idempotent and act with the
-- caller's user mapping for the server; they need USAGE on the server.
--

-- The Glue table over a pipeline's audit records: JSON SerDe, the audit
-- record's columns with keys/new_image/old_image as struct<item_columns>,
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
