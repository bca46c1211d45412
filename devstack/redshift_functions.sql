-- Test-only: Redshift built-ins that PostgreSQL lacks, installed into the PostgreSQL database that stands in
-- for Redshift (never into a real Redshift). Only what dmsval's Redshift SQL uses.
-- STRTOL(text, base): Redshift parses a number in the given base; dmsval only asks base 16 (MD5 hex digits).
CREATE OR REPLACE FUNCTION public.strtol(value text, base integer) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN base = 16 THEN ('x' || lpad(value, 16, '0'))::bit(64)::bigint
              ELSE NULL::bigint END
$$;
