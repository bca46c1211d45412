-- Boundary values of every MySQL/MariaDB type DMS migrates to Redshift (dmsval's own test dataset).
--
-- Loaded by devstack.datasets.load_boundary into a fresh database, in a session with
--   sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION' (no NO_ZERO_DATE / NO_ZERO_IN_DATE: zero dates load,
--   any other bad value still fails the load) and the time zone the caller asks for (default +00:00).
-- Plain TIMESTAMP literals therefore mean *local time of the loading session* (a source server at +05:30
-- stores '2024-06-01 12:00:00' as 06:30 UTC); the limit and DST rows are written as UTC instants
-- (FROM_UNIXTIME / CONVERT_TZ from '+00:00') so they are the same instants whatever the session's zone.
-- LobMaxSize of the provisioned test tasks is 32 KB: the long LOB rows exceed it (and some exceed 65535 bytes).
-- Plain MySQL DDL and INSERTs; utf8mb4 everywhere. Row counts: see BOUNDARY_ROW_COUNTS in datasets.py.

CREATE TABLE int_limits (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT, t1 TINYINT(1)
) DEFAULT CHARSET = utf8mb4;
INSERT INTO int_limits VALUES
  (1, -128, -32768, -8388608, -2147483648, -9223372036854775808, -128),
  (2, 127, 32767, 8388607, 2147483647, 9223372036854775807, 127),
  (3, 0, 0, 0, 0, 0, 0),
  (4, -1, -1, -1, -1, -1, 1),
  (5, NULL, NULL, NULL, NULL, NULL, NULL);

-- Unsigned values that fit the signed type of the same width (loadable whatever DMS does with UNSIGNED).
CREATE TABLE unsigned_fit (
  id INT NOT NULL PRIMARY KEY,
  tu TINYINT UNSIGNED, su SMALLINT UNSIGNED, mu MEDIUMINT UNSIGNED, iu INT UNSIGNED, bu BIGINT UNSIGNED
) DEFAULT CHARSET = utf8mb4;
INSERT INTO unsigned_fit VALUES
  (1, 0, 0, 0, 0, 0),
  (2, 255, 32767, 16777215, 2147483647, 9223372036854775807),
  (3, NULL, NULL, NULL, NULL, NULL);

-- Unsigned maxima beyond the signed range of the same width: one table per type, so a DMS variant whose
-- target type cannot hold them (SMALLINT UNSIGNED -> SMALLINT in the guide's table) leaves out only that table.
CREATE TABLE unsigned_max_small (id INT NOT NULL PRIMARY KEY, v SMALLINT UNSIGNED) DEFAULT CHARSET = utf8mb4;
INSERT INTO unsigned_max_small VALUES (1, 0), (2, 32768), (3, 65535);
CREATE TABLE unsigned_max_int (id INT NOT NULL PRIMARY KEY, v INT UNSIGNED) DEFAULT CHARSET = utf8mb4;
INSERT INTO unsigned_max_int VALUES (1, 0), (2, 2147483648), (3, 4294967295);
CREATE TABLE unsigned_max_big (id INT NOT NULL PRIMARY KEY, v BIGINT UNSIGNED) DEFAULT CHARSET = utf8mb4;
INSERT INTO unsigned_max_big VALUES (1, 0), (2, 9223372036854775808), (3, 18446744073709551615);

CREATE TABLE decimals (
  id INT NOT NULL PRIMARY KEY,
  d65 DECIMAL(65,30), d38 DECIMAL(38,10), d52 DECIMAL(5,2), d0 DECIMAL(10,0)
) DEFAULT CHARSET = utf8mb4;
INSERT INTO decimals VALUES
  (1, 99999999999999999999999999999999999.999999999999999999999999999999,
      9999999999999999999999999999.9999999999, 999.99, 9999999999),
  (2, -99999999999999999999999999999999999.999999999999999999999999999999,
      -9999999999999999999999999999.9999999999, -999.99, -9999999999),
  (3, 0.000000000000000000000000000001, 0.0000000001, 0.01, 1),
  (4, -0.000000000000000000000000000001, -0.0000000001, -0.01, -1),
  (5, 0, 0, 0, 0),
  (6, NULL, NULL, NULL, NULL);

-- FLOAT / DOUBLE: largest, smallest normal, smallest and largest subnormal, -0.0 (MariaDB stores 0),
-- values whose shortest exact text needs 9 (FLOAT) and 17 (DOUBLE) significant digits.
CREATE TABLE floats (id INT NOT NULL PRIMARY KEY, f FLOAT, d DOUBLE) DEFAULT CHARSET = utf8mb4;
INSERT INTO floats VALUES
  (1, 3.402823466e38, 1.7976931348623157e308),
  (2, -3.402823466e38, -1.7976931348623157e308),
  (3, 1.175494351e-38, 2.2250738585072014e-308),
  (4, 1.401298464e-45, 4.9406564584124654e-324),
  (5, 1.175494211e-38, 2.2250738585072009e-308),
  (6, -0.0, -0.0),
  (7, 109.488625, 0.30000000000000004),
  (8, 0.1, 0.79999999999999993),
  (9, 3.1415927, 1.0000000000000002),
  (10, 16777216, 123456789),
  (11, 0, 0.123456789),
  (12, NULL, NULL);

-- DATE / DATETIME / TIME / YEAR: limits, zero and partial-zero dates (NULL on Redshift), negative TIME and TIME
-- beyond 24 h, DATETIME wall times that do not exist or exist twice in Europe/Berlin (never shifted: no zone).
CREATE TABLE temporal (
  id INT NOT NULL PRIMARY KEY,
  d DATE, dt0 DATETIME, dt6 DATETIME(6), t0 TIME, t6 TIME(6), y YEAR
) DEFAULT CHARSET = utf8mb4;
INSERT INTO temporal VALUES
  (1, '1000-01-01', '1000-01-01 00:00:00', '1000-01-01 00:00:00.000000', '-838:59:59', '-838:59:59.000000', 1901),
  (2, '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999', '838:59:59', '838:59:59.000000', 2155),
  (3, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', '00:00:00', '00:00:00.000000', '0000'),
  (4, '2024-00-10', '2024-05-00 10:00:00', '0000-01-01 00:00:00.000001', '25:00:00', '100:00:00.000001', 2000),
  (5, '2024-02-29', '2026-03-29 02:30:00', '2026-10-25 02:30:00.123456', '-00:00:01', '-00:00:00.500000', 1970),
  (6, '1970-01-01', '1970-01-01 00:00:01', '2038-01-19 03:14:07.999999', '23:59:59', '23:59:59.999999', 2038),
  (7, NULL, NULL, NULL, NULL, NULL, NULL);

-- TIMESTAMP (stored in UTC, converted from/to the session zone by MySQL): the range limits, zero, the
-- Europe/Berlin DST changes of 2026 as UTC instants (spring: 01:00 UTC; autumn: 00:30 and 01:30 UTC are the
-- same Berlin wall time 02:30), and plain literals (meaning local time of the loading session).
CREATE TABLE timestamps (
  id INT NOT NULL PRIMARY KEY,
  ts0 TIMESTAMP NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL, note VARCHAR(40)
) DEFAULT CHARSET = utf8mb4;
INSERT INTO timestamps VALUES
  (1, FROM_UNIXTIME(1), FROM_UNIXTIME(1.000001), 'first second of the range'),
  (2, FROM_UNIXTIME(2147483647), FROM_UNIXTIME(2147483647.999999), 'last instant of the range'),
  (3, '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', 'zero'),
  (4, CONVERT_TZ('2026-03-29 00:59:59', '+00:00', @@session.time_zone),
      CONVERT_TZ('2026-03-29 00:59:59.999999', '+00:00', @@session.time_zone), 'Berlin: before spring forward'),
  (5, CONVERT_TZ('2026-03-29 01:00:00', '+00:00', @@session.time_zone),
      CONVERT_TZ('2026-03-29 01:30:00.000001', '+00:00', @@session.time_zone), 'Berlin: after spring forward'),
  (6, CONVERT_TZ('2026-10-25 00:30:00', '+00:00', @@session.time_zone),
      CONVERT_TZ('2026-10-25 00:30:00.5', '+00:00', @@session.time_zone), 'Berlin 02:30 CEST'),
  (7, CONVERT_TZ('2026-10-25 01:30:00', '+00:00', @@session.time_zone),
      CONVERT_TZ('2026-10-25 01:30:00.5', '+00:00', @@session.time_zone), 'Berlin 02:30 CET'),
  (8, '2024-06-01 12:00:00', '2024-06-01 12:00:00.250000', 'local time of the loading session'),
  (9, '2000-01-01 00:00:00', '1999-12-31 23:59:59.999999', 'local time of the loading session'),
  (10, NULL, NULL, NULL);

CREATE TABLE bits (id INT NOT NULL PRIMARY KEY, b1 BIT(1), b5 BIT(5), b64 BIT(64)) DEFAULT CHARSET = utf8mb4;
INSERT INTO bits VALUES
  (1, b'0', b'00000', b'0'),
  (2, b'1', b'11111', b'1111111111111111111111111111111111111111111111111111111111111111'),
  (3, b'1', b'10000', b'1000000000000000000000000000000000000000000000000000000000000000'),
  (4, b'0', b'00001', b'1'),
  (5, NULL, NULL, NULL);

-- Character data: CHAR trailing spaces, 4-byte UTF-8, NFC and NFD forms of the same word as different rows,
-- '' vs NULL vs 'NULL', ENUM, SET incl. the empty set, values filling a VARCHAR(n) with 4-byte characters
-- (a VARCHAR created at n x 3 bytes cannot hold them: DMS with TruncateColumns cuts them).
CREATE TABLE texts (
  id INT NOT NULL PRIMARY KEY,
  ch CHAR(10), vc VARCHAR(20), vc8 VARCHAR(8), tt TINYTEXT,
  en ENUM('small','medium','large'), st SET('a','b','c')
) DEFAULT CHARSET = utf8mb4 COLLATE utf8mb4_general_ci;
INSERT INTO texts VALUES
  (1, 'ab   ', 'trailing   ', '😀😀😀😀😀😀😀😀', 'tiny 😀', 'small', 'a,b,c'),
  (2, '', '', '', '', 'medium', ''),
  (3, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 'NULL', 'NULL', 'NULL', 'NULL', 'large', 'c,a'),
  (5, 'café', 'café', 'café', 'café', 'small', 'b'),
  (6, 'café', 'café', 'café', 'café', 'small', 'b'),
  (7, '   ', '   ', 'ab😀😀😀😀😀😀', ' lead', 'large', 'a'),
  (8, 'éééééééééé', 'héllo 😀 wörld ✓', '€€€€€€€€', REPEAT('€', 85), 'medium', 'a,c'),
  (9, '😀😀😀😀😀😀😀😀😀😀', '😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀', 'x', 'x', 'small', 'c');

-- Binary data: every byte value 0x00-0xFF, BINARY padding, empty values, values longer than LobMaxSize.
CREATE TABLE binaries (
  id INT NOT NULL PRIMARY KEY,
  bn BINARY(16), vb VARBINARY(256), tb TINYBLOB, bl BLOB, lb LONGBLOB
) DEFAULT CHARSET = utf8mb4;
INSERT INTO binaries VALUES
  (1, 'ab', x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff',
      x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfe',
      x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff',
      x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff'),
  (2, x'', x'', x'', x'', x''),
  (3, NULL, NULL, NULL, NULL, NULL),
  (4, x'00000000000000000000000000000000', x'ff', x'00', REPEAT(x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', 157), REPEAT(x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', 400)),
  (5, x'ffffffffffffffffffffffffffffffff', x'00', x'ff', REPEAT(x'ab', 32767), REPEAT(x'cd', 32768));

-- Text LOBs and JSON, including values longer than LobMaxSize (32 KB) and than Redshift's VARCHAR(65535),
-- with multi-byte characters straddling both cut points.
CREATE TABLE lobs (
  id INT NOT NULL PRIMARY KEY,
  t TEXT, mt MEDIUMTEXT, lt LONGTEXT, js JSON
) DEFAULT CHARSET = utf8mb4;
INSERT INTO lobs VALUES
  (1, 'short €😀', 'medium €😀', 'long €😀', '{"k": [1, 2.5, "😀"], "n": null}'),
  (2, '', '', '', '[]'),
  (3, NULL, NULL, NULL, NULL),
  (4, CONCAT('a', REPEAT('€', 13333)), CONCAT('a', REPEAT('€', 40000)), CONCAT('ab', REPEAT('😀', 20000)),
      CONCAT('["', REPEAT('x', 40000), '"]')),
  (5, REPEAT('a', 32768), REPEAT('a', 65535), REPEAT('a', 65536), CONCAT('["', REPEAT('€', 11000), '"]'));

CREATE TABLE geometries (id INT NOT NULL PRIMARY KEY, g GEOMETRY, p POINT) DEFAULT CHARSET = utf8mb4;
INSERT INTO geometries VALUES
  (1, ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(-180 -90)')),
  (2, ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), ST_GeomFromText('POINT(0 0)')),
  (3, ST_GeomFromText('POINT(13.4 52.5)', 4326), ST_GeomFromText('POINT(1.5 -2.25)', 4326)),
  (4, ST_GeomFromText('MULTIPOINT(0 0,1 1,2 2)'), NULL),
  (5, NULL, NULL);

-- A VARCHAR primary key under a case-insensitive collation: MySQL cannot hold keys differing only in case, and
-- orders keys differently from Redshift's byte order.
CREATE TABLE ci_keys (
  k VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT
) DEFAULT CHARSET = utf8mb4;
INSERT INTO ci_keys VALUES
  ('Alpha', 1), ('beta', 2), ('Gamma', 3), ('émile', 4), ('Zürich', 5), ('😀 key', 6), ('a b', 7), ('_x', 8);

-- No primary or unique key, with duplicate rows (compared as a multiset).
CREATE TABLE nokey (a INT, b VARCHAR(10), c DATE) DEFAULT CHARSET = utf8mb4;
INSERT INTO nokey VALUES
  (1, 'x', '2024-01-01'), (1, 'x', '2024-01-01'), (2, 'y', NULL), (NULL, NULL, NULL), (NULL, NULL, NULL),
  (3, '', '2024-01-02'), (3, 'NULL', '2024-01-02');
