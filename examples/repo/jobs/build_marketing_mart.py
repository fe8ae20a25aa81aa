"""tr-sql/marketing-mart: build the marketing mart from the sales warehouse.

Reads in.c-shop.orders, in.c-adform.campaigns and out.c-sales.daily from
WAREHOUSE_PATH (default data/warehouse.sqlite; built by tr-sql/sales-mart) and
writes out.c-marketing.campaigns, out.c-marketing.channels, out.c-marketing.daily.

Orders are attributed to Adform campaigns by campaign_id, and only on days the
Adform extract covers.

Parameters (ORCHRECON_PARAMETERS): excludeStatuses (default ["refunded"]),
targetRoas (revenue per unit of spend a campaign should reach, default 3).
"""

from __future__ import annotations

import json

from common import connect, fail, log, param, parameters, quote, table_exists, warehouse_path

REQUIRED = ["in.c-shop.orders", "in.c-adform.campaigns", "out.c-sales.daily"]

SOLD = """
    sold AS (SELECT * FROM "in.c-shop.orders" WHERE status NOT IN (SELECT value FROM json_each(:excluded)))
"""

MART = {
    "out.c-marketing.campaigns": """
          WITH """ + SOLD + """,
               spend AS (SELECT campaign_id, campaign_name,
                                SUM(impressions) AS impressions, SUM(clicks) AS clicks, SUM(spend) AS spend
                           FROM "in.c-adform.campaigns"
                          GROUP BY campaign_id, campaign_name),
               attributed AS (SELECT campaign_id, COUNT(*) AS orders, SUM(amount) AS revenue
                                FROM sold
                               WHERE channel = 'adform'
                                 AND order_date IN (SELECT date FROM "in.c-adform.campaigns")
                               GROUP BY campaign_id)
        SELECT s.campaign_id,
               s.campaign_name,
               s.impressions,
               s.clicks,
               ROUND(100.0 * s.clicks / NULLIF(s.impressions, 0), 2)       AS ctr_pct,
               ROUND(s.spend, 2)                                            AS spend,
               COALESCE(a.orders, 0)                                        AS orders,
               ROUND(COALESCE(a.revenue, 0), 2)                             AS revenue,
               ROUND(COALESCE(a.revenue, 0) / NULLIF(s.spend, 0), 2)        AS roas,
               ROUND(s.spend / NULLIF(a.orders, 0), 2)                      AS cost_per_order,
               CASE WHEN COALESCE(a.revenue, 0) >= :target * s.spend THEN 'yes' ELSE 'no' END
                                                                            AS meets_target
          FROM spend AS s
          LEFT JOIN attributed AS a ON a.campaign_id = s.campaign_id
         ORDER BY s.campaign_id
    """,
    "out.c-marketing.channels": """
          WITH """ + SOLD + """
        SELECT channel,
               COUNT(*)                                                     AS orders,
               COUNT(DISTINCT customer_id)                                  AS customers,
               ROUND(SUM(amount), 2)                                        AS revenue,
               ROUND(100.0 * SUM(amount) / (SELECT SUM(amount) FROM sold), 1) AS revenue_share_pct
          FROM sold
         GROUP BY channel
         ORDER BY revenue DESC, channel
    """,
    "out.c-marketing.daily": """
          WITH """ + SOLD + """,
               adform AS (SELECT order_date AS date, SUM(amount) AS revenue
                            FROM sold WHERE channel = 'adform' GROUP BY order_date)
        SELECT d.date,
               d.revenue,
               d.ad_spend,
               ROUND(COALESCE(a.revenue, 0), 2)                             AS adform_revenue,
               ROUND(d.revenue / NULLIF(d.ad_spend, 0), 2)                  AS blended_roas
          FROM "out.c-sales.daily" AS d
          LEFT JOIN adform AS a ON a.date = d.date
         ORDER BY d.date
    """,
}


def main() -> None:
    params = parameters()
    excluded = param(params, "excludeStatuses", ["refunded"], list)
    target = param(params, "targetRoas", 3, (int, float))
    if not all(isinstance(status, str) for status in excluded):
        fail("parameter 'excludeStatuses' must be a list of strings")

    path = warehouse_path()
    conn = connect(path, create=False)
    missing = [table for table in REQUIRED if not table_exists(conn, table)]
    if missing:
        fail(f"table(s) {', '.join(missing)} not found in {path}; run tr-sql/sales-mart first")
    log(f"warehouse {path}; target ROAS {target}")
    values = {"excluded": json.dumps(excluded), "target": target}
    conn.execute("BEGIN IMMEDIATE")
    for table, sql in MART.items():
        conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
        conn.execute(f"CREATE TABLE {quote(table)} AS {sql}", values)
        (rows,) = conn.execute(f"SELECT COUNT(*) FROM {quote(table)}").fetchone()
        log(f"{table}: {rows} rows")
    conn.execute("COMMIT")
    conn.close()
    log("marketing mart ready")


if __name__ == "__main__":
    main()
