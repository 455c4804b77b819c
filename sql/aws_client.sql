--
-- The AWS client core's SQL surface and settings: argument validation and
-- the errors raised before any request.  No network: the server points at a
-- closed port, so a call that got as far as AWS would fail differently.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS audit_fdw;
RESET client_min_messages;
CREATE SERVER awsc_closed FOREIGN DATA WRAPPER audit_fdw
	OPTIONS (region 'us-east-1', endpoint 'http://127.0.0.1:9');
CREATE USER MAPPING FOR CURRENT_USER SERVER awsc_closed
	OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE SERVER awsc_unmapped FOREIGN DATA WRAPPER audit_fdw
	OPTIONS (region 'us-east-1', endpoint 'http://127.0.0.1:9');
CREATE FOREIGN DATA WRAPPER awsc_other_fdw;
CREATE SERVER awsc_other FOREIGN DATA WRAPPER awsc_other_fdw;
\set VERBOSITY default

-- settings and their defaults
SELECT name, setting, unit, context FROM pg_settings
 WHERE name LIKE 'audit_fdw.aws%' ORDER BY name;

-- servers
SELECT * FROM audit_fdw.aws_identity('no_such_server');
SELECT * FROM audit_fdw.aws_identity('awsc_other');
SELECT * FROM audit_fdw.aws_identity('awsc_unmapped');

-- arguments
SELECT audit_fdw.aws_request('awsc_closed', 'ec2', 'DescribeInstances');
SELECT audit_fdw.aws_request('awsc_closed', 'glue', 'GetTables', '[1, 2]');
SELECT audit_fdw.s3_get_object('awsc_closed', 'https://bucket/key');
SELECT audit_fdw.s3_get_object('awsc_closed', 's3://bucket');
SELECT audit_fdw.s3_get_object('awsc_closed', 's3:///key');
SELECT audit_fdw.s3_object_size('awsc_closed', 's3://bucket/');
SELECT * FROM audit_fdw.s3_list_objects('awsc_closed', 'bucket/prefix');

-- nothing listens on port 9: a network error, retried, with its errcode
SET audit_fdw.aws_max_retries = 1;
SET audit_fdw.aws_retry_base_delay = '1ms';
\set VERBOSITY terse
SELECT arn FROM audit_fdw.aws_identity('awsc_closed');
\set VERBOSITY default
RESET ALL;

-- the functions that act with the server's credentials are granted to no one
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may
  FROM pg_proc p WHERE p.pronamespace = 'audit_fdw'::regnamespace
   AND (p.proname LIKE 'aws\_%' OR p.proname LIKE 's3\_%')
 ORDER BY 1;

-- TLS verification: only a superuser may turn it off
CREATE ROLE awsc_plain;
SET ROLE awsc_plain;
SET audit_fdw.aws_verify_tls = off;
SET audit_fdw.aws_ca_file = '/tmp/ca.pem';
SET audit_fdw.aws_max_retries = 2;
RESET ROLE;
DROP ROLE awsc_plain;

DROP SERVER awsc_closed CASCADE;
DROP SERVER awsc_unmapped;
DROP SERVER awsc_other;
DROP FOREIGN DATA WRAPPER awsc_other_fdw;
