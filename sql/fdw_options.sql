-- Options of audit_fdw's servers, foreign tables, columns and user mappings:
-- every one is checked when CREATE or ALTER runs.  No network is needed.
CREATE EXTENSION IF NOT EXISTS audit_fdw;

CREATE SERVER athena FOREIGN DATA WRAPPER audit_fdw OPTIONS (
    region 'us-east-1', database 'audit', workgroup 'primary',
    output_location 's3://results/audit_fdw/');

-- an unknown name gets the closest valid name as a hint
CREATE SERVER bad FOREIGN DATA WRAPPER audit_fdw OPTIONS (regoin 'us-east-1');
CREATE SERVER bad FOREIGN DATA WRAPPER audit_fdw OPTIONS (output_locaton 's3://x/');
ALTER SERVER athena OPTIONS (ADD work_group 'x');
-- ... or none when nothing is close
ALTER SERVER athena OPTIONS (ADD zzzzzzzz 'x');
-- options of another object are not valid here
ALTER SERVER athena OPTIONS (ADD "table" 'x');
-- the wrapper itself takes no options
ALTER FOREIGN DATA WRAPPER audit_fdw OPTIONS (ADD region 'us-east-1');

-- values are checked too
ALTER SERVER athena OPTIONS (ADD result_transport 'json');
ALTER SERVER athena OPTIONS (ADD result_reuse_minutes '-1');
ALTER SERVER athena OPTIONS (ADD result_reuse_minutes 'ten');
ALTER SERVER athena OPTIONS (ADD result_reuse_minutes '10081');
ALTER SERVER athena OPTIONS (SET output_location 'https://bucket/prefix/');
ALTER SERVER athena OPTIONS (SET output_location 's3:///prefix/');
ALTER SERVER athena OPTIONS (ADD endpoint 'ftp://127.0.0.1:1');
ALTER SERVER athena OPTIONS (SET region '');
ALTER SERVER athena OPTIONS (ADD price_per_tb 'NaN');
ALTER SERVER athena OPTIONS (ADD poll_initial_ms '500', ADD poll_max_ms '100');
ALTER SERVER athena OPTIONS (ADD result_transport 'api', ADD result_reuse_minutes '60',
    ADD poll_initial_ms '10', ADD poll_max_ms '2000', ADD price_per_tb '6.25',
    ADD catalog 'AwsDataCatalog', ADD fdw_startup_cost '5000', ADD fdw_tuple_cost '0.02');
ALTER SERVER athena OPTIONS (SET result_transport 'csv');
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname = 'athena';

-- endpoint sends requests and signatures elsewhere: superuser only
CREATE ROLE regress_fdw_owner;
CREATE ROLE regress_fdw_other;
GRANT USAGE ON FOREIGN DATA WRAPPER audit_fdw TO regress_fdw_owner;
SET ROLE regress_fdw_owner;
CREATE SERVER own_endpoint FOREIGN DATA WRAPPER audit_fdw
    OPTIONS (endpoint 'http://127.0.0.1:4566');
CREATE SERVER own FOREIGN DATA WRAPPER audit_fdw OPTIONS (region 'eu-west-1');
ALTER SERVER own OPTIONS (ADD endpoint 'http://127.0.0.1:4566');
RESET ROLE;
ALTER SERVER own OPTIONS (ADD endpoint 'http://127.0.0.1:4566');

-- foreign table options
CREATE FOREIGN TABLE orders_audit (
    event_id text,
    event_time timestamptz,
    new_image jsonb,
    new_state text OPTIONS (column_name 'new_image', path 'state')
) SERVER athena OPTIONS (database 'audit', "table" 'orders_audit');
CREATE FOREIGN TABLE bad (a int) SERVER athena OPTIONS (tabel 'x');
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD estimated_rows 'many');
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD estimated_rows '50000');
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD region 'x');
-- partition pruning options
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD partition_format 'dd/MM/yyyy');
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD partition_format 'yyyy/MMM');
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD partition_format 'yyyy/MM/''dd''');
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD max_delivery_delay '-1 hour');
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD max_delivery_delay '1 month');
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD max_delivery_delay 'soon');
ALTER FOREIGN TABLE orders_audit OPTIONS (ADD time_column 'event_time',
    ADD partition_column 'datehour', ADD partition_format 'yyyy/MM/dd/HH',
    ADD max_delivery_delay '1 hour');

-- column options
ALTER FOREIGN TABLE orders_audit ALTER COLUMN event_id OPTIONS (ADD column_nam 'x');
ALTER FOREIGN TABLE orders_audit ALTER COLUMN new_state OPTIONS (SET path 'a..b');
ALTER FOREIGN TABLE orders_audit ALTER COLUMN new_state OPTIONS (SET path '.a');
ALTER FOREIGN TABLE orders_audit ALTER COLUMN new_state OPTIONS (SET path 'address.city');
ALTER FOREIGN TABLE orders_audit ALTER COLUMN new_state OPTIONS (SET path 'state');

-- user mappings: the credential options; secrets are never quoted back
CREATE USER MAPPING FOR regress_fdw_owner SERVER athena
    OPTIONS (access_key_id 'AKIDEXAMPLE', secret_acess_key 'x');
CREATE USER MAPPING FOR regress_fdw_owner SERVER athena
    OPTIONS (access_key_id 'AKIDEXAMPLE', secret_access_key '');
CREATE USER MAPPING FOR regress_fdw_owner SERVER athena
    OPTIONS (access_key_id 'AKIDEXAMPLE',
             secret_access_key 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
             session_token 'FQoGZXIvYXdzEXAMPLE');
CREATE USER MAPPING FOR regress_fdw_other SERVER athena
    OPTIONS (profile 'audit', role_arn 'arn:aws:iam::123456789012:role/audit',
             external_id 'x-1');
CREATE USER MAPPING FOR PUBLIC SERVER athena OPTIONS (region 'us-east-1');
-- a mapping without keys signs with the database server's own identity:
-- only a superuser may name a profile or allow that (credentials_required)
CREATE USER MAPPING FOR regress_fdw_owner SERVER own
    OPTIONS (credentials_required 'maybe');
SET ROLE regress_fdw_owner;
CREATE USER MAPPING FOR regress_fdw_owner SERVER own OPTIONS (profile 'prod');
CREATE USER MAPPING FOR regress_fdw_owner SERVER own
    OPTIONS (credentials_required 'false');
RESET ROLE;
CREATE USER MAPPING FOR regress_fdw_owner SERVER own
    OPTIONS (credentials_required 'false');
DROP USER MAPPING FOR regress_fdw_owner SERVER own;
-- another user does not see a mapping's options (PostgreSQL's own rule)
SET ROLE regress_fdw_other;
SELECT usename, umoptions IS NULL AS hidden
  FROM pg_user_mappings WHERE srvname = 'athena' ORDER BY usename;
RESET ROLE;

DROP USER MAPPING FOR regress_fdw_owner SERVER athena;
DROP USER MAPPING FOR regress_fdw_other SERVER athena;
DROP SERVER own;
DROP FOREIGN TABLE orders_audit;
DROP SERVER athena;
REVOKE USAGE ON FOREIGN DATA WRAPPER audit_fdw FROM regress_fdw_owner;
DROP ROLE regress_fdw_owner;
DROP ROLE regress_fdw_other;
