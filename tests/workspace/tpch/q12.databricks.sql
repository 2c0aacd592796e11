-- Shipping modes and order priority
SELECT l_shipmode,
       count_if(o_orderpriority IN ('1-URGENT', '2-HIGH')) AS high_line_count,
       count_if(o_orderpriority NOT IN ('1-URGENT', '2-HIGH')) AS low_line_count
FROM samples.tpch.orders
JOIN samples.tpch.lineitem ON o_orderkey = l_orderkey
WHERE l_shipmode IN ('MAIL', 'SHIP')
  AND l_commitdate < l_receiptdate
  AND l_shipdate < l_commitdate
  AND l_receiptdate >= DATE'1994-01-01'
  AND l_receiptdate < DATE'1994-01-01' + INTERVAL 1 YEAR
GROUP BY l_shipmode
ORDER BY l_shipmode
