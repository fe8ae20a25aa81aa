"""tr-sql/sales-mart: load the extracts into SQLite and build the sales mart.

Inputs (CSV extracts):  in.c-shop.orders (required), in.c-adform.campaigns and
in.c-crm.customers (optional: an empty table when the extract is missing).
Outputs (tables in WAREHOUSE_PATH, default data/warehouse.sqlite):
out.c-sales.daily, out.c-sales.products, out.c-sales.segments.

Parameters (ORCHRECON_PARAMETERS): excludeStatuses (order statuses left out of the
mart, default ["refunded"]).
"""

from __future__ import annotations

import json
from pathlib import Path

from common import connect, fail, load_csv, log, param, parameters, quote, warehouse_path

INPUTS = [
    # table, extract, columns, required
    ("in.c-shop.orders", "data/in/shop/orders.csv", {
        "order_id": "TEXT", "order_date": "TEXT", "customer_id": "TEXT", "sku": "TEXT", "product": "TEXT",
        "channel": "TEXT", "campaign_id": "TEXT", "quantity": "INTEGER", "unit_price": "REAL",
        "amount": "REAL", "status": "TEXT",
    }, True),
    ("in.c-adform.campaigns", "data/in/adform/campaigns.csv", {
        "date": "TEXT", "campaign_id": "TEXT", "campaign_name": "TEXT", "device": "TEXT",
        "impressions": "INTEGER", "clicks": "INTEGER", "spend": "REAL",
    }, False),
    ("in.c-crm.customers", "data/in/crm/customers.csv", {
        "customer_id": "TEXT", "name": "TEXT", "email": "TEXT", "country": "TEXT", "segment": "TEXT",
        "signup_date": "TEXT",
    }, False),
]

# :excluded is the JSON list of excluded order statuses
MART = {
    "out.c-sales.daily": """
        SELECT o.order_date                              AS date,
               COUNT(*)                                  AS orders,
               COUNT(DISTINCT o.customer_id)             AS customers,
               SUM(o.quantity)                           AS units,
               ROUND(SUM(o.amount), 2)                   AS revenue,
               ROUND(SUM(o.amount) / COUNT(*), 2)        AS avg_order_value,
               COALESCE(MAX(s.ad_spend), 0.0)            AS ad_spend
          FROM "in.c-shop.orders" AS o
          LEFT JOIN (SELECT date, ROUND(SUM(spend), 2) AS ad_spend
                       FROM "in.c-adform.campaigns" GROUP BY date) AS s ON s.date = o.order_date
         WHERE o.status NOT IN (SELECT value FROM json_each(:excluded))
         GROUP BY o.order_date
         ORDER BY o.order_date
    """,
    "out.c-sales.products": """
          WITH sold AS (SELECT * FROM "in.c-shop.orders"
                         WHERE status NOT IN (SELECT value FROM json_each(:excluded)))
        SELECT sku,
               product,
               COUNT(*)                                  AS orders,
               SUM(quantity)                             AS units,
               ROUND(SUM(amount), 2)                     AS revenue,
               ROUND(100.0 * SUM(amount) / (SELECT SUM(amount) FROM sold), 1) AS revenue_share_pct
          FROM sold
         GROUP BY sku, product
         ORDER BY revenue DESC, sku
    """,
    "out.c-sales.segments": """
        SELECT COALESCE(c.segment, 'unknown')           AS segment,
               COUNT(DISTINCT o.customer_id)             AS customers,
               COUNT(*)                                  AS orders,
               ROUND(SUM(o.amount), 2)                   AS revenue
          FROM "in.c-shop.orders" AS o
          LEFT JOIN "in.c-crm.customers" AS c ON c.customer_id = o.customer_id
         WHERE o.status NOT IN (SELECT value FROM json_each(:excluded))
         GROUP BY COALESCE(c.segment, 'unknown')
         ORDER BY revenue DESC, segment
    """,
}


def main() -> None:
    params = parameters()
    excluded = param(params, "excludeStatuses", ["refunded"], list)
    if not all(isinstance(status, str) for status in excluded):
        fail("parameter 'excludeStatuses' must be a list of strings")

    for table, extract, _, required in INPUTS:
        if required and not Path(extract).is_file():
            fail(f"input {extract} not found; run the extractor that writes {table} first")
    path = warehouse_path()
    log(f"warehouse {path}; excluding order statuses: {', '.join(excluded) or 'none'}")
    conn = connect(path, create=True)
    conn.execute("BEGIN IMMEDIATE")
    for table, extract, columns, required in INPUTS:
        load_csv(conn, table, Path(extract), columns, required=required)
    for table, sql in MART.items():
        conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
        conn.execute(f"CREATE TABLE {quote(table)} AS {sql}", {"excluded": json.dumps(excluded)})
        (rows,) = conn.execute(f"SELECT COUNT(*) FROM {quote(table)}").fetchone()
        log(f"{table}: {rows} rows")
    conn.execute("COMMIT")
    conn.close()
    log("sales mart ready")


if __name__ == "__main__":
    main()
