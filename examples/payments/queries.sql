-- Live questions about the payments database, answered by Floe from the
-- replicated tables. Run against Floe, not PostgreSQL:
--
--   psql -h 127.0.0.1 -p 5433 -U floe floe -f examples/payments/queries.sql

-- a) Payout success rate by country and method over the last hour:
--    paid / (paid + failed), counting only payouts that are no longer pending.
SELECT m.country,
       me.name AS method,
       count(*) FILTER (WHERE p.status = 'paid') AS paid,
       count(*) FILTER (WHERE p.status = 'failed') AS failed,
       round(CAST(count(*) FILTER (WHERE p.status = 'paid') AS DOUBLE PRECISION)
             / count(*), 3) AS success_rate
FROM public.payouts p
JOIN public.merchants m ON m.id = p.merchant_id
JOIN public.methods me ON me.id = p.method_id
WHERE p.requested_at >= now() - INTERVAL '1 hour'
  AND p.status IN ('paid', 'failed')
GROUP BY m.country, me.name
ORDER BY m.country, method;

-- b) Payout velocity over the last 30 minutes: payouts requested per minute
--    and their total amount (amounts are in each payout's own currency, so
--    the sum is a rough volume, not money in one currency).
SELECT date_trunc('minute', requested_at) AS minute,
       count(*) AS payouts,
       sum(amount) AS amount
FROM public.payouts
WHERE requested_at >= now() - INTERVAL '30 minutes'
GROUP BY date_trunc('minute', requested_at)
ORDER BY minute;

-- c) Time to payout by method: median (and 95th percentile) seconds from
--    request to payment, for payouts paid in the last hour.
SELECT me.name AS method,
       count(*) AS paid,
       round(median(extract(epoch FROM p.paid_at) - extract(epoch FROM p.requested_at)), 2)
           AS median_seconds,
       round(approx_percentile_cont(extract(epoch FROM p.paid_at) - extract(epoch FROM p.requested_at), 0.95), 2)
           AS p95_seconds
FROM public.payouts p
JOIN public.methods me ON me.id = p.method_id
WHERE p.status = 'paid'
  AND p.paid_at >= now() - INTERVAL '1 hour'
GROUP BY me.name
ORDER BY method;

-- d) Replication health: one row for the source as a whole (table_name is
--    empty; lag is reported there), then one row per replicated table.
SELECT source,
       table_schema,
       table_name,
       state,
       lag_bytes,
       lag_seconds,
       rows_snapshotted,
       rows_applied,
       last_error
FROM system.sources
ORDER BY source, table_name NULLS FIRST;
