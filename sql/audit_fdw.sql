-- The extension installs into its own schema.
CREATE EXTENSION audit_fdw;
SELECT extname, extnamespace::regnamespace AS schema, extversion
  FROM pg_extension WHERE extname = 'audit_fdw';
