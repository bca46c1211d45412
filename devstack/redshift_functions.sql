-- Test-only: Redshift built-ins that PostgreSQL lacks, installed into the PostgreSQL database that stands in
-- for Redshift (never into a real Redshift). Only what dmsval's Redshift SQL uses.
-- STRTOL(text, base): Redshift parses a number in the given base; dmsval only asks base 16 (MD5 hex digits).
-- Not STRICT, on purpose: PostgreSQL inlines a SQL function only when it cannot change the NULL behaviour, and
-- a STRICT function whose body (a CASE) is not provably strict is called per row through the SQL executor --
-- 3.3 s more on a 2M-row checksum, where Redshift's native STRTOL costs next to nothing. Inlined, a NULL value
-- still gives NULL ('x' || NULL is NULL), as STRICT did.
CREATE OR REPLACE FUNCTION public.strtol(value text, base integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN base = 16 THEN ('x' || lpad(value, 16, '0'))::bit(64)::bigint
              ELSE NULL::bigint END
$$;
