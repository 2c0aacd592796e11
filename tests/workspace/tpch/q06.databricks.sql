-- Forecasting revenue change
SELECT sum(l_extendedprice * l_discount) AS revenue
FROM samples.tpch.lineitem
WHERE l_shipdate >= '1994-01-01'
  AND l_shipdate < date_add(DATE'1994-01-01', 365)
  AND l_discount BETWEEN 0.06 - 0.01 AND 0.06 + 0.01
  AND l_quantity < 24
