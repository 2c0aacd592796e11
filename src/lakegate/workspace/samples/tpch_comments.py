"""What each `samples.tpch` table and column holds, in words a copilot can pick tables by.

Stored as DuckDB comments, so Unity Catalog's table API and DESCRIBE return them.
"""

TABLE_COMMENTS = {
    "region": "TPC-H regions: the 5 world regions nations belong to.",
    "nation": "TPC-H nations: 25 countries, each in one region; suppliers and customers "
    "are located in a nation.",
    "supplier": "TPC-H suppliers of parts, with their nation and account balance.",
    "part": "TPC-H parts (products): name, manufacturer, brand, type, size, container and "
    "retail price.",
    "partsupp": "TPC-H part suppliers: which supplier offers which part, with available "
    "quantity and supply cost (4 suppliers per part).",
    "customer": "TPC-H customers, with their nation, market segment and account balance.",
    "orders": "TPC-H orders placed by customers: date, status, priority and total price "
    "(one row per order; its lines are in lineitem).",
    "lineitem": "TPC-H order lines (line items): the part and supplier, quantity, price, "
    "discount, tax, ship/commit/receipt dates, return flag and ship mode of each line of an "
    "order. The fact table for revenue questions: revenue = l_extendedprice * (1 - l_discount).",
}
COLUMN_COMMENTS = {
    "region": {
        "r_regionkey": "Region key (0-4), primary key.",
        "r_name": "Region name, e.g. EUROPE, ASIA, AMERICA.",
        "r_comment": "Free-text comment.",
    },
    "nation": {
        "n_nationkey": "Nation key (0-24), primary key.",
        "n_name": "Nation name in capitals, e.g. GERMANY, UNITED STATES.",
        "n_regionkey": "Region of the nation: foreign key to region.r_regionkey.",
        "n_comment": "Free-text comment.",
    },
    "supplier": {
        "s_suppkey": "Supplier key, primary key.",
        "s_name": "Supplier name, 'Supplier#' and the key in 9 digits.",
        "s_address": "Supplier address.",
        "s_nationkey": "Nation of the supplier: foreign key to nation.n_nationkey.",
        "s_phone": "Phone number; its first two digits are the country code (nation key + 10).",
        "s_acctbal": "Account balance.",
        "s_comment": "Free-text comment.",
    },
    "part": {
        "p_partkey": "Part key, primary key.",
        "p_name": "Part name: five color words, e.g. 'forest green lace ...'.",
        "p_mfgr": "Manufacturer, 'Manufacturer#1' to 'Manufacturer#5'.",
        "p_brand": "Brand, 'Brand#MN' where M is the manufacturer.",
        "p_type": "Type: size, finish and metal, e.g. 'PROMO BRUSHED STEEL'.",
        "p_size": "Size, 1 to 50.",
        "p_container": "Container, e.g. 'SM CASE', 'JUMBO PKG'.",
        "p_retailprice": "Retail price of one unit.",
        "p_comment": "Free-text comment.",
    },
    "partsupp": {
        "ps_partkey": "Part: foreign key to part.p_partkey.",
        "ps_suppkey": "Supplier: foreign key to supplier.s_suppkey.",
        "ps_availqty": "Quantity the supplier has available.",
        "ps_supplycost": "Cost of one unit from this supplier.",
        "ps_comment": "Free-text comment.",
    },
    "customer": {
        "c_custkey": "Customer key, primary key.",
        "c_name": "Customer name, 'Customer#' and the key in 9 digits.",
        "c_address": "Customer address.",
        "c_nationkey": "Nation of the customer: foreign key to nation.n_nationkey.",
        "c_phone": "Phone number; its first two digits are the country code (nation key + 10).",
        "c_acctbal": "Account balance.",
        "c_mktsegment": "Market segment: AUTOMOBILE, BUILDING, FURNITURE, HOUSEHOLD or MACHINERY.",
        "c_comment": "Free-text comment.",
    },
    "orders": {
        "o_orderkey": "Order key, primary key.",
        "o_custkey": "Customer who placed the order: foreign key to customer.c_custkey.",
        "o_orderstatus": "F when every line shipped by 1995-06-17, O when none had, P otherwise.",
        "o_totalprice": "Total price: sum of the lines' extended price with tax, less discount.",
        "o_orderdate": "Date the order was placed (1992-01-01 to 1998-08-02).",
        "o_orderpriority": "Priority: 1-URGENT, 2-HIGH, 3-MEDIUM, 4-NOT SPECIFIED or 5-LOW.",
        "o_clerk": "Clerk who took the order.",
        "o_shippriority": "Shipping priority (always 0).",
        "o_comment": "Free-text comment.",
    },
    "lineitem": {
        "l_orderkey": "Order: foreign key to orders.o_orderkey.",
        "l_partkey": "Part: foreign key to part.p_partkey.",
        "l_suppkey": "Supplier: foreign key to supplier.s_suppkey ((l_partkey, l_suppkey) is "
        "in partsupp).",
        "l_linenumber": "Line number within the order, from 1.",
        "l_quantity": "Quantity ordered, 1 to 50.",
        "l_extendedprice": "l_quantity * p_retailprice, before discount and tax.",
        "l_discount": "Discount as a fraction, 0.00 to 0.10.",
        "l_tax": "Tax as a fraction, 0.00 to 0.08.",
        "l_returnflag": "R returned, A accepted, N not yet received.",
        "l_linestatus": "O open (ships after 1995-06-17), F fulfilled.",
        "l_shipdate": "Date the line shipped.",
        "l_commitdate": "Date the line was committed to ship.",
        "l_receiptdate": "Date the customer received the line.",
        "l_shipinstruct": "Shipping instruction, e.g. 'DELIVER IN PERSON'.",
        "l_shipmode": "Ship mode: REG AIR, AIR, RAIL, SHIP, TRUCK, MAIL or FOB.",
        "l_comment": "Free-text comment.",
    },
}
