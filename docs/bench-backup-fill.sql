-- A year of a team's use, in round numbers (see docs/benchmarks.md).
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO users SELECT 'user' || i, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA', 'Europe/Rome', 1700000000 + i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO sessions SELECT 'tok' || i || '0123456789abcdef0123456789abcdef0123456789abcdef0123456789', 'user' || (i % 1000 + 1), 'csrf' || i || '0123456789abcdef0123456789abcdef', 1800000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO events SELECT 'ev' || i, 'Team meeting ' || i, 'The weekly meeting of team ' || (i % 50), 'user' || (i % 1000 + 1), 1700000000 + i * 60, 'A', 'final', '[[1893488400,1893495600],[1893506400,1893510000]]', 1700000000 + i * 60 - 86400, 1700000000 + i * 60 FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
INSERT INTO participants SELECT 'ev' || (i / 5 + 1), 'user' || ((i / 5 + i % 5 * 7) % 1000 + 1), i % 5, 1 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO account_bookings SELECT 'CONF1-' || printf('%016x', i), 'user' || (i % 1000 + 1), 'Room ' || (i % 4 + 1), (i / 4) * 20, (i / 4) * 20 + 20 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO booking_record SELECT 'CONF1-' || printf('%016x', i), 'Room ' || (i % 4 + 1), (i / 4) * 20, (i / 4) * 20 + 20, (i / 4) * 20 + 20, 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO booking_kept_reply SELECT '10.0.0.' || (i % 250) || ':40000', i, 'Room 1', i, randomblob(64), 1700000000000 + i FROM n;
