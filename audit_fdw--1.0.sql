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
