-- Helpers of the emulator's Athena engine, installed in the engine database
-- at start (athena_engine.py).  They give Trino's semantics where PostgreSQL's
-- built-ins differ; athena_sql.py calls them by these unique names.
--   athena_fn     functions and aggregates, and the tinyint domain
--   athena_ops    operators that take the place of PostgreSQL's where Trino
--                 types the result otherwise (tinyint and decimal arithmetic);
--                 the engine's search_path puts this schema before pg_catalog
--   athena_types  composite types of Glue struct columns
--   athena_cache  rows loaded from S3 objects, one table per Glue table shape
-- @ICU@ is replaced by a collation whose case mapping is Unicode's simple,
-- one code point to one, as Trino's (C.utf8 where the system has it).

DROP SCHEMA IF EXISTS athena_cache CASCADE;
DROP SCHEMA IF EXISTS athena_types CASCADE;
DROP SCHEMA IF EXISTS athena_ops CASCADE;
DROP SCHEMA IF EXISTS athena_fn CASCADE;
CREATE SCHEMA athena_fn;
CREATE SCHEMA athena_ops;
CREATE SCHEMA athena_types;
CREATE SCHEMA athena_cache;

-- errors raised here carry a Trino error name in DETAIL for the engine
CREATE FUNCTION athena_fn.fail(name text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING MESSAGE = message, DETAIL = 'trino:' || name, ERRCODE = 'P0001';
END $$;

-- text ----------------------------------------------------------------------

CREATE FUNCTION athena_fn.trino_lower(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT lower(s COLLATE "@ICU@") COLLATE "C" $$;
CREATE FUNCTION athena_fn.trino_upper(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT upper(s COLLATE "@ICU@") COLLATE "C" $$;
CREATE FUNCTION athena_fn.trino_length(s text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT char_length(s)::bigint $$;

-- substr: 1-based; a negative start counts from the end; start 0 gives ''
CREATE FUNCTION athena_fn.trino_substr(s text, start bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN start = 0 THEN ''
              WHEN start > 0 THEN substr(s, least(start, 2147483647)::int)
              WHEN -start > char_length(s) THEN ''
              ELSE substr(s, (char_length(s) + start + 1)::int) END $$;
CREATE FUNCTION athena_fn.trino_substr(s text, start bigint, len bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN start = 0 OR len <= 0 THEN ''
              WHEN start > 0 THEN substr(s, least(start, 2147483647)::int, least(len, 2147483647)::int)
              WHEN -start > char_length(s) THEN ''
              ELSE substr(s, (char_length(s) + start + 1)::int, least(len, 2147483647)::int) END $$;

-- concat and ||: varchar only (PostgreSQL's || accepts any type on one side)
CREATE FUNCTION athena_fn.trino_concat(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT a || b $$;
CREATE FUNCTION athena_fn.trino_concat(a anyarray, b anyarray) RETURNS anyarray
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT a || b $$;

CREATE FUNCTION athena_fn.to_varchar(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT v $$;
CREATE FUNCTION athena_fn.to_varchar(v anyelement) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT v::text $$;
CREATE FUNCTION athena_fn.to_varchar(v date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_char(v, 'YYYY-MM-DD') $$;
CREATE FUNCTION athena_fn.to_varchar(v boolean) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN v THEN 'true' WHEN NOT v THEN 'false' END $$;
CREATE FUNCTION athena_fn.to_varchar(v timestamp) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_char(v, 'YYYY-MM-DD HH24:MI:SS.MS') $$;
CREATE FUNCTION athena_fn.to_varchar(v timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT to_char(v AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') || ' UTC' $$;

CREATE FUNCTION athena_fn.regexp_extract(s text, pattern text, grp bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (regexp_match(s, '(' || pattern || ')'))[grp + 1] $$;

-- dates and times --------------------------------------------------------------

CREATE FUNCTION athena_fn.trino_date_trunc(unit text, v timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT date_trunc(unit, v) $$;
CREATE FUNCTION athena_fn.trino_date_trunc(unit text, v timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT date_trunc(unit, v) $$;
CREATE FUNCTION athena_fn.trino_date_trunc(unit text, v date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT date_trunc(unit, v::timestamp)::date $$;

CREATE FUNCTION athena_fn.unit_interval(unit text, n bigint) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE unit WHEN 'quarter' THEN make_interval(months => (3 * n)::int)
                   WHEN 'millisecond' THEN n * interval '1 millisecond'
                   ELSE n * ('1 ' || unit)::interval END $$;
CREATE FUNCTION athena_fn.trino_date_add(unit text, n bigint, v timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT v + athena_fn.unit_interval(unit, n) $$;
CREATE FUNCTION athena_fn.trino_date_add(unit text, n bigint, v timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT v + athena_fn.unit_interval(unit, n) $$;
CREATE FUNCTION athena_fn.trino_date_add(unit text, n bigint, v date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (v + athena_fn.unit_interval(unit, n))::date $$;

CREATE FUNCTION athena_fn.trino_date_diff(unit text, a timestamp, b timestamp) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE unit
    WHEN 'millisecond' THEN trunc(extract(epoch FROM b - a) * 1000)::bigint
    WHEN 'second' THEN trunc(extract(epoch FROM b - a))::bigint
    WHEN 'minute' THEN trunc(extract(epoch FROM b - a) / 60)::bigint
    WHEN 'hour' THEN trunc(extract(epoch FROM b - a) / 3600)::bigint
    WHEN 'day' THEN trunc(extract(epoch FROM b - a) / 86400)::bigint
    WHEN 'week' THEN trunc(extract(epoch FROM b - a) / 604800)::bigint
    WHEN 'month' THEN (extract(year FROM age(b, a)) * 12 + extract(month FROM age(b, a)))::bigint
    WHEN 'quarter' THEN trunc((extract(year FROM age(b, a)) * 12 + extract(month FROM age(b, a))) / 3)::bigint
    WHEN 'year' THEN extract(year FROM age(b, a))::bigint END $$;
CREATE FUNCTION athena_fn.trino_date_diff(unit text, a timestamptz, b timestamptz) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT athena_fn.trino_date_diff(unit, a AT TIME ZONE 'UTC', b AT TIME ZONE 'UTC') $$;
CREATE FUNCTION athena_fn.trino_date_diff(unit text, a date, b date) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT athena_fn.trino_date_diff(unit, a::timestamp, b::timestamp) $$;

CREATE FUNCTION athena_fn.from_iso8601_timestamp(s text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT s::timestamptz(3) $$;
CREATE FUNCTION athena_fn.to_iso8601(v timestamp) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_char(v, 'YYYY-MM-DD"T"HH24:MI:SS.MS') $$;
CREATE FUNCTION athena_fn.to_iso8601(v timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT to_char(v AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
CREATE FUNCTION athena_fn.to_iso8601(v date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_char(v, 'YYYY-MM-DD') $$;
-- Trino keeps the instant and shows it in the zone; the engine shows UTC
CREATE FUNCTION athena_fn.at_time_zone(v timestamp, zone text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT v AT TIME ZONE 'UTC' $$;
CREATE FUNCTION athena_fn.at_time_zone(v timestamptz, zone text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT v $$;

-- JSON -----------------------------------------------------------------------

CREATE FUNCTION athena_fn.to_trino_json(v anyelement) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT to_json(v) $$;
CREATE FUNCTION athena_fn.to_trino_json(v timestamp) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_json(to_char(v, 'YYYY-MM-DD HH24:MI:SS.MS')) $$;
CREATE FUNCTION athena_fn.json_format(j json) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT j::text COLLATE "C" $$;
CREATE FUNCTION athena_fn.json_parse(s text) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT s::json $$;
CREATE FUNCTION athena_fn.json_extract(j json, path text) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT jsonb_path_query_first(j::jsonb, path::jsonpath)::json $$;
CREATE FUNCTION athena_fn.json_extract(j text, path text) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT jsonb_path_query_first(j::jsonb, path::jsonpath)::json $$;
CREATE FUNCTION athena_fn.json_extract_scalar(j json, path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(v) IN ('object', 'array') THEN NULL ELSE v #>> '{}' END
    FROM (SELECT jsonb_path_query_first(j::jsonb, path::jsonpath) AS v) s $$;
CREATE FUNCTION athena_fn.json_extract_scalar(j text, path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT athena_fn.json_extract_scalar(j::json, path) $$;

-- arrays and maps (maps are jsonb objects) -------------------------------------

CREATE FUNCTION athena_fn.subscript(a anyarray, i bigint) RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF i < 1 OR i > coalesce(cardinality(a), 0) THEN
    PERFORM athena_fn.fail('INVALID_FUNCTION_ARGUMENT',
      format('Array subscript must be less than or equal to array length: %s > %s', i, coalesce(cardinality(a), 0)));
  END IF;
  RETURN a[i];
END $$;
CREATE FUNCTION athena_fn.subscript(m jsonb, k text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF NOT m ? k THEN
    PERFORM athena_fn.fail('INVALID_FUNCTION_ARGUMENT', format('Key not present in map: %s', k));
  END IF;
  RETURN m ->> k;
END $$;
CREATE FUNCTION athena_fn.element_at(a anyarray, i bigint) RETURNS anyelement
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN i > 0 THEN a[i] WHEN i < 0 THEN a[cardinality(a) + i + 1]
              ELSE NULL END $$;
CREATE FUNCTION athena_fn.element_at(m jsonb, k text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT m ->> k $$;

-- numbers ----------------------------------------------------------------------

-- Trino rounds half away from zero (PostgreSQL's float round is half-even)
CREATE FUNCTION athena_fn.trino_round(x double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN x >= 0 THEN floor(x + 0.5) ELSE ceil(x - 0.5) END $$;
CREATE FUNCTION athena_fn.trino_round(x double precision, d bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN x = 'NaN' OR x IN ('Infinity', '-Infinity') THEN x
              ELSE round(x::numeric, d::int)::double precision END $$;
CREATE FUNCTION athena_fn.trino_round(x real) RETURNS real
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT athena_fn.trino_round(x::double precision)::real $$;
CREATE FUNCTION athena_fn.trino_round(x numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(x) $$;
CREATE FUNCTION athena_fn.trino_round(x numeric, d bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(x, d::int) $$;
CREATE FUNCTION athena_fn.trino_round(x bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x $$;
CREATE FUNCTION athena_fn.trino_round(x integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x $$;
CREATE FUNCTION athena_fn.trino_round(x smallint) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x $$;

-- tinyint: a smallint that overflows at its own width ------------------------------
-- (Trino's TinyintOperators: "tinyint addition overflow: 127 + 1", ...).  Mixed
-- with a wider integer PostgreSQL resolves the domain to smallint, as Trino
-- coerces tinyint to the wider type.

CREATE DOMAIN athena_fn.tinyint AS smallint;
CREATE FUNCTION athena_fn.tinyint_result(r integer, message text) RETURNS athena_fn.tinyint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF r < -128 OR r > 127 THEN
    PERFORM athena_fn.fail('NUMERIC_VALUE_OUT_OF_RANGE', message);
  END IF;
  RETURN r;
END $$;
CREATE FUNCTION athena_ops.tinyint_add(a athena_fn.tinyint, b athena_fn.tinyint) RETURNS athena_fn.tinyint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF a::int + b::int NOT BETWEEN -128 AND 127 THEN
    PERFORM athena_fn.fail('NUMERIC_VALUE_OUT_OF_RANGE', format('tinyint addition overflow: %s + %s', a, b));
  END IF;
  RETURN a::int + b::int;
END $$;
CREATE FUNCTION athena_ops.tinyint_sub(a athena_fn.tinyint, b athena_fn.tinyint) RETURNS athena_fn.tinyint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF a::int - b::int NOT BETWEEN -128 AND 127 THEN
    PERFORM athena_fn.fail('NUMERIC_VALUE_OUT_OF_RANGE', format('tinyint subtraction overflow: %s - %s', a, b));
  END IF;
  RETURN a::int - b::int;
END $$;
CREATE FUNCTION athena_ops.tinyint_mul(a athena_fn.tinyint, b athena_fn.tinyint) RETURNS athena_fn.tinyint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF a::int * b::int NOT BETWEEN -128 AND 127 THEN
    PERFORM athena_fn.fail('NUMERIC_VALUE_OUT_OF_RANGE', format('tinyint multiplication overflow: %s * %s', a, b));
  END IF;
  RETURN a::int * b::int;
END $$;
CREATE FUNCTION athena_ops.tinyint_neg(a athena_fn.tinyint) RETURNS athena_fn.tinyint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF a = -128 THEN
    PERFORM athena_fn.fail('NUMERIC_VALUE_OUT_OF_RANGE', format('tinyint negation overflow: %s', a));
  END IF;
  RETURN -a::int;
END $$;
CREATE OPERATOR athena_ops.+ (leftarg = athena_fn.tinyint, rightarg = athena_fn.tinyint, function = athena_ops.tinyint_add);
CREATE OPERATOR athena_ops.- (leftarg = athena_fn.tinyint, rightarg = athena_fn.tinyint, function = athena_ops.tinyint_sub);
CREATE OPERATOR athena_ops.* (leftarg = athena_fn.tinyint, rightarg = athena_fn.tinyint, function = athena_ops.tinyint_mul);
CREATE OPERATOR athena_ops.- (rightarg = athena_fn.tinyint, function = athena_ops.tinyint_neg);

-- CAST(x AS tinyint): text that is no tinyint is INVALID_CAST_ARGUMENT,
-- a number out of range NUMERIC_VALUE_OUT_OF_RANGE (Trino's casts round
-- decimals and doubles half away from zero)
CREATE FUNCTION athena_fn.to_tinyint(v text) RETURNS athena_fn.tinyint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE r bigint;
BEGIN
  BEGIN
    r := btrim(v)::bigint;
  EXCEPTION WHEN others THEN
    r := NULL;
  END;
  IF r IS NULL OR r NOT BETWEEN -128 AND 127 THEN
    PERFORM athena_fn.fail('INVALID_CAST_ARGUMENT', format('Cannot cast ''%s'' to TINYINT', v));
  END IF;
  RETURN r;
END $$;
CREATE FUNCTION athena_fn.to_tinyint(v numeric) RETURNS athena_fn.tinyint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF round(v) NOT BETWEEN -128 AND 127 THEN
    PERFORM athena_fn.fail('NUMERIC_VALUE_OUT_OF_RANGE', format('Out of range for tinyint: %s', v));
  END IF;
  RETURN round(v);
END $$;
CREATE FUNCTION athena_fn.to_tinyint(v double precision) RETURNS athena_fn.tinyint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT athena_fn.to_tinyint(athena_fn.trino_round(v)::numeric) $$;
CREATE FUNCTION athena_fn.to_tinyint(v boolean) RETURNS athena_fn.tinyint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT CASE WHEN v THEN 1 ELSE 0 END::smallint $$;
CREATE FUNCTION athena_fn.try_cast_tinyint(v anyelement) RETURNS athena_fn.tinyint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN athena_fn.to_tinyint(v); EXCEPTION WHEN others THEN RETURN NULL; END $$;

-- decimal(p,s): Trino's result scales are PostgreSQL's display scales
-- (a + b and a - b: the larger scale; a * b: the sum; a / b and a % b:
-- the larger, the quotient rounded half up), and a result that needs more
-- than 38 digits fails (Trino's DecimalOperators; the precision itself is
-- not tracked: below 38 digits it never decides whether a value fits).
-- Trino rescales an operand of + and - to the result's scale in 127 bits,
-- so an operand whose rescaled digits pass 2^127 fails too.

CREATE FUNCTION athena_fn.dec_fits(r numeric) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF scale(r) > 38 THEN
    PERFORM athena_fn.fail('INVALID_FUNCTION_ARGUMENT',
                           format('DECIMAL scale must be in range [0, precision (38)]: %s', scale(r)));
  END IF;
  IF abs(r) >= ('1e' || (38 - scale(r)))::numeric THEN
    PERFORM athena_fn.fail('NUMERIC_VALUE_OUT_OF_RANGE', 'Decimal overflow');
  END IF;
  RETURN r;
END $$;
CREATE FUNCTION athena_fn.dec_rescaled(r numeric, a numeric, b numeric) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF (greatest(abs(a), abs(b)) OPERATOR(pg_catalog.*) ('1e' || scale(r))::numeric)
       >= 170141183460469231731687303715884105728 THEN
    PERFORM athena_fn.fail('NUMERIC_VALUE_OUT_OF_RANGE', 'Decimal overflow');
  END IF;
  RETURN athena_fn.dec_fits(r);
END $$;
CREATE FUNCTION athena_ops.dec_add(a numeric, b numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT athena_fn.dec_rescaled(a OPERATOR(pg_catalog.+) b, a, b) $$;
CREATE FUNCTION athena_ops.dec_sub(a numeric, b numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT athena_fn.dec_rescaled(a OPERATOR(pg_catalog.-) b, a, b) $$;
CREATE FUNCTION athena_ops.dec_mul(a numeric, b numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT athena_fn.dec_fits(a OPERATOR(pg_catalog.*) b) $$;
CREATE OPERATOR athena_ops.+ (leftarg = numeric, rightarg = numeric, function = athena_ops.dec_add);
CREATE OPERATOR athena_ops.- (leftarg = numeric, rightarg = numeric, function = athena_ops.dec_sub);
CREATE OPERATOR athena_ops.* (leftarg = numeric, rightarg = numeric, function = athena_ops.dec_mul);
-- a / b at the larger scale, rounded half up from the exact quotient (the
-- helpers spell out pg_catalog's operators: athena_ops' check every step)
CREATE FUNCTION athena_fn.dec_div(a numeric, b numeric) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  s int := greatest(scale(a), scale(b));
  n numeric := a OPERATOR(pg_catalog.*) ('1e' || s)::numeric;
  q numeric := div(n, b);
  r numeric := n OPERATOR(pg_catalog.-) (q OPERATOR(pg_catalog.*) b);
BEGIN
  IF (abs(r) OPERATOR(pg_catalog.*) 2) >= abs(b) THEN
    q := q OPERATOR(pg_catalog.+) (sign(n) OPERATOR(pg_catalog.*) sign(b));
  END IF;
  RETURN athena_fn.dec_fits(round(q OPERATOR(pg_catalog.*) ('1e-' || s)::numeric, s));
END $$;

-- aggregates: Trino's result types (sum(bigint) is bigint, avg of integers
-- is double) ---------------------------------------------------------------------

CREATE AGGREGATE athena_fn.trino_sum(smallint) (sfunc = int2_sum, stype = bigint, combinefunc = int8pl, parallel = safe);
CREATE AGGREGATE athena_fn.trino_sum(integer) (sfunc = int4_sum, stype = bigint, combinefunc = int8pl, parallel = safe);
CREATE AGGREGATE athena_fn.trino_sum(bigint) (sfunc = int8pl, stype = bigint, combinefunc = int8pl, parallel = safe);
CREATE AGGREGATE athena_fn.trino_sum(real) (sfunc = float4pl, stype = real, combinefunc = float4pl, parallel = safe);
CREATE AGGREGATE athena_fn.trino_sum(double precision) (sfunc = float8pl, stype = double precision, combinefunc = float8pl, parallel = safe);
CREATE AGGREGATE athena_fn.trino_sum(numeric) (sfunc = numeric_add, stype = numeric, combinefunc = numeric_add, finalfunc = athena_fn.dec_fits, parallel = safe);

CREATE FUNCTION athena_fn.avg_accum(s double precision[], v bigint) RETURNS double precision[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT float8_accum(s, v::double precision) $$;
CREATE FUNCTION athena_fn.avg_accum(s double precision[], v integer) RETURNS double precision[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT float8_accum(s, v::double precision) $$;
CREATE FUNCTION athena_fn.avg_accum(s double precision[], v smallint) RETURNS double precision[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT float8_accum(s, v::double precision) $$;
CREATE FUNCTION athena_fn.avg_accum(s double precision[], v real) RETURNS double precision[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT float8_accum(s, v::double precision) $$;
CREATE FUNCTION athena_fn.avg_final_real(s double precision[]) RETURNS real
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT float8_avg(s)::real $$;
CREATE AGGREGATE athena_fn.trino_avg(bigint) (sfunc = athena_fn.avg_accum, stype = double precision[], finalfunc = float8_avg, initcond = '{0,0,0}');
CREATE AGGREGATE athena_fn.trino_avg(integer) (sfunc = athena_fn.avg_accum, stype = double precision[], finalfunc = float8_avg, initcond = '{0,0,0}');
CREATE AGGREGATE athena_fn.trino_avg(smallint) (sfunc = athena_fn.avg_accum, stype = double precision[], finalfunc = float8_avg, initcond = '{0,0,0}');
CREATE AGGREGATE athena_fn.trino_avg(real) (sfunc = athena_fn.avg_accum, stype = double precision[], finalfunc = athena_fn.avg_final_real, initcond = '{0,0,0}');
CREATE AGGREGATE athena_fn.trino_avg(double precision) (sfunc = float8_accum, stype = double precision[], finalfunc = float8_avg, initcond = '{0,0,0}');
-- avg(decimal(p,s)) is decimal(p,s): the mean rounded to the inputs' scale
CREATE FUNCTION athena_fn.dec_avg_accum(s numeric[], v numeric) RETURNS numeric[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT ARRAY[s[1] OPERATOR(pg_catalog.+) v, s[2] OPERATOR(pg_catalog.+) 1, greatest(s[3], scale(v))] $$;
CREATE FUNCTION athena_fn.dec_avg_final(s numeric[]) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN s[2] = 0 THEN NULL ELSE athena_fn.dec_div(round(s[1], s[3]::int), s[2]) END $$;
CREATE AGGREGATE athena_fn.trino_avg(numeric) (sfunc = athena_fn.dec_avg_accum, stype = numeric[], finalfunc = athena_fn.dec_avg_final, initcond = '{0,0,0}');
CREATE AGGREGATE athena_fn.trino_avg(interval) (sfunc = interval_accum, stype = interval[], finalfunc = interval_avg, initcond = '{0 second,0 second}');

CREATE FUNCTION athena_fn.keep_first(s anyelement, v anyelement) RETURNS anyelement
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT s $$;
CREATE AGGREGATE athena_fn.arbitrary(anyelement) (sfunc = athena_fn.keep_first, stype = anyelement);

-- try_cast: NULL where the cast fails ---------------------------------------------

CREATE FUNCTION athena_fn.try_cast_smallint(v anyelement) RETURNS smallint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN v::smallint; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION athena_fn.try_cast_integer(v anyelement) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN v::integer; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION athena_fn.try_cast_bigint(v anyelement) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN v::bigint; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION athena_fn.try_cast_real(v anyelement) RETURNS real LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN v::real; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION athena_fn.try_cast_double(v anyelement) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN v::double precision; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION athena_fn.try_cast_numeric(v anyelement) RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN v::numeric; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION athena_fn.try_cast_boolean(v anyelement) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN v::boolean; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION athena_fn.try_cast_date(v anyelement) RETURNS date LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN v::date; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION athena_fn.try_cast_timestamp(v anyelement) RETURNS timestamp(3) LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN v::timestamp(3); EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION athena_fn.try_cast_timestamptz(v anyelement) RETURNS timestamptz(3) LANGUAGE plpgsql STABLE AS $$
BEGIN RETURN v::timestamptz(3); EXCEPTION WHEN others THEN RETURN NULL; END $$;

-- reading JSON lines (OpenX JSON SerDe) ---------------------------------------------

-- a key matched case-insensitively, as the SerDe matches them (the loader
-- tries the exact key inline first and calls this only when it is missing)
CREATE FUNCTION athena_fn.jget_ci(j jsonb, k text) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(j) = 'object' THEN
    (SELECT e.value FROM jsonb_each(j) AS e WHERE lower(e.key) = lower(k) LIMIT 1)
  END $$;
CREATE FUNCTION athena_fn.json_timestamp(v jsonb) RETURNS timestamp(3)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE jsonb_typeof(v)
    WHEN 'number' THEN (to_timestamp((v #>> '{}')::double precision / 1000) AT TIME ZONE 'UTC')::timestamp(3)
    WHEN 'string' THEN (v #>> '{}')::timestamp(3) END $$;

-- rendering results as Athena writes them ------------------------------------------

-- arrays [a, b], maps and rows {k=v, f=v}
CREATE FUNCTION athena_fn.render_json(j json) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  t text := json_typeof(j);
  r text;
BEGIN
  IF t IS NULL THEN
    RETURN NULL;
  ELSIF t = 'object' THEN
    SELECT '{' || coalesce(string_agg(e.key || '=' || athena_fn.render_json(e.value), ', ' ORDER BY e.n), '') || '}'
      INTO r FROM json_each(j) WITH ORDINALITY AS e(key, value, n);
    RETURN r;
  ELSIF t = 'array' THEN
    SELECT '[' || coalesce(string_agg(athena_fn.render_json(e.value), ', ' ORDER BY e.n), '') || ']'
      INTO r FROM json_array_elements(j) WITH ORDINALITY AS e(value, n);
    RETURN r;
  ELSIF t = 'string' THEN
    RETURN j #>> '{}';
  ELSIF t = 'null' THEN
    RETURN 'null';
  END IF;
  RETURN j::text;
END $$;

-- doubles as Java prints them: 3.0, 0.001, 1.0E7, 1.5E-5 (the common range
-- inline, the exponent form in plpgsql)
CREATE FUNCTION athena_fn.render_double_exponent(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  neg text := '';
  digits text;
  expo int;
  point int;
BEGIN
  IF left(s, 1) = '-' THEN neg := '-'; s := substr(s, 2); END IF;
  -- digits and exponent of the shortest representation (PostgreSQL
  -- prints it normalised, d.ddde+XX, when it uses an exponent)
  IF s ~ 'e' THEN
    digits := replace(split_part(s, 'e', 1), '.', '');
    expo := split_part(s, 'e', 2)::int;
  ELSE
    point := strpos(s, '.');
    IF point = 0 THEN s := s || '.'; point := length(s); END IF;
    digits := replace(s, '.', '');
    expo := point - 2;
    WHILE left(digits, 1) = '0' LOOP
      digits := substr(digits, 2);
      expo := expo - 1;
    END LOOP;
  END IF;
  digits := rtrim(digits, '0');
  IF digits = '' THEN digits := '0'; END IF;
  RETURN neg || left(digits, 1) || '.' || coalesce(nullif(substr(digits, 2), ''), '0') || 'E' || expo;
END $$;
CREATE FUNCTION athena_fn.render_double(x double precision) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN x IN ('NaN', 'Infinity', '-Infinity') THEN x::text
    WHEN x = 0 THEN CASE WHEN x::text LIKE '-%' THEN '-0.0' ELSE '0.0' END
    WHEN abs(x) >= 1e-3 AND abs(x) < 1e7 THEN
      CASE WHEN strpos(x::text, '.') > 0 THEN x::text ELSE x::text || '.0' END
    ELSE athena_fn.render_double_exponent(x::text) END $$;
CREATE FUNCTION athena_fn.render_double(x real) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN x IN ('NaN', 'Infinity', '-Infinity') THEN x::text
    WHEN x = 0 THEN CASE WHEN x::text LIKE '-%' THEN '-0.0' ELSE '0.0' END
    WHEN abs(x) >= 1e-3 AND abs(x) < 1e7 THEN
      CASE WHEN strpos(x::text, '.') > 0 THEN x::text ELSE x::text || '.0' END
    ELSE athena_fn.render_double_exponent(x::text) END $$;

-- CAST(double AS varchar) prints as Java's String.valueOf(double)
CREATE FUNCTION athena_fn.to_varchar(v double precision) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT athena_fn.render_double(v) $$;
CREATE FUNCTION athena_fn.to_varchar(v real) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT athena_fn.render_double(v) $$;

-- CAST(map AS JSON): keys sorted, compact as Trino prints JSON
CREATE FUNCTION athena_fn.compact_json(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT regexp_replace(t, '("(?:[^"\\]|\\.)*")|([,:]) ', '\1\2', 'g') $$;
CREATE FUNCTION athena_fn.to_trino_json(m jsonb) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE jsonb_typeof(m) WHEN 'object' THEN
    (SELECT coalesce('{' || string_agg(to_json(e.key)::text || ':' || athena_fn.compact_json(e.value::text),
                                       ',' ORDER BY e.key COLLATE "C") || '}', '{}')
       FROM jsonb_each(m) AS e)::json
    ELSE athena_fn.compact_json(m::text)::json END $$;
-- exact overloads keep integers and decimals from resolving to the double one
CREATE FUNCTION athena_fn.to_varchar(v bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT v::text $$;
CREATE FUNCTION athena_fn.to_varchar(v integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT v::text $$;
CREATE FUNCTION athena_fn.to_varchar(v smallint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT v::text $$;
CREATE FUNCTION athena_fn.to_varchar(v numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT v::text $$;

-- division and remainder: Trino's doubles divide by zero into Infinity/NaN,
-- its integers and decimals fail as PostgreSQL's do
CREATE FUNCTION athena_fn.trino_div(a anycompatible, b anycompatible) RETURNS anycompatible
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF b = 0 AND pg_typeof(a) IN ('double precision'::regtype, 'real'::regtype) THEN
    RETURN CASE WHEN a > 0 THEN 'Infinity' WHEN a < 0 THEN '-Infinity' ELSE 'NaN' END;
  END IF;
  IF pg_typeof(a) = 'numeric'::regtype THEN
    RETURN athena_fn.dec_div(a, b);
  END IF;
  RETURN a / b;
END $$;
CREATE FUNCTION athena_fn.trino_mod(a anycompatible, b anycompatible) RETURNS anycompatible
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF pg_typeof(a) IN ('double precision'::regtype, 'real'::regtype) THEN
    IF b = 0 THEN RETURN 'NaN'; END IF;
    RETURN a - b * trunc(a / b);
  END IF;
  RETURN a % b;
END $$;
