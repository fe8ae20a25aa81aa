"""ex-shop/orders: extract shop orders into data/in/shop/orders.csv.

Offline and deterministic: the "API" is a seeded random generator, so the same
parameters always give the same extract.

Parameters (ORCHRECON_PARAMETERS): since (YYYY-MM-DD), days, ordersPerDay,
customers, seed, output.
"""

from __future__ import annotations

import os
import random
from datetime import timedelta

from common import ADFORM_CAMPAIGNS, date_param, fail, log, money, param, parameters, write_csv

PRODUCTS = [
    ("SKU-100", "Espresso beans 1 kg", 2490),
    ("SKU-101", "Filter coffee 500 g", 1190),
    ("SKU-200", "Ceramic dripper", 2290),
    ("SKU-201", "Paper filters (100)", 490),
    ("SKU-300", "Hand grinder", 6990),
    ("SKU-301", "Gooseneck kettle", 5490),
]
CHANNELS = ["direct", "organic", "adform", "email"]
CHANNEL_WEIGHTS = [35, 25, 25, 15]


def main() -> None:
    params = parameters()
    since = date_param(params, "since", "2026-01-05")
    days = param(params, "days", 28, int)
    per_day = param(params, "ordersPerDay", 12, int)
    customers = param(params, "customers", 300, int)
    seed = param(params, "seed", 2026, int)
    output = param(params, "output", "data/in/shop/orders.csv", str)
    if days < 1 or per_day < 1 or customers < 1:
        fail("parameters 'days', 'ordersPerDay' and 'customers' must be at least 1")

    log(f"source {os.environ.get('SHOP_URL', 'https://shop.example')} (offline sample, seed {seed})")
    log(f"extracting orders from {since} for {days} day(s)")
    rng = random.Random(seed)
    rows = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        count = rng.randint(per_day - 4, per_day + 4) if per_day > 4 else per_day
        if day.weekday() >= 5:  # quieter weekends
            count = max(1, count * 6 // 10)
        for _ in range(count):
            sku, product, price = rng.choice(PRODUCTS)
            quantity = rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
            channel = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]
            campaign = rng.choice(ADFORM_CAMPAIGNS)[0] if channel == "adform" else ""
            status = "refunded" if rng.random() < 0.07 else "paid"
            rows.append([
                f"O{len(rows) + 1:06d}",
                day.isoformat(),
                f"C{rng.randint(1, customers):04d}",
                sku,
                product,
                channel,
                campaign,
                quantity,
                money(price),
                money(price * quantity),
                status,
            ])
        log(f"{day}: {count} orders")

    header = ["order_id", "order_date", "customer_id", "sku", "product", "channel",
              "campaign_id", "quantity", "unit_price", "amount", "status"]
    path = write_csv(output, header, rows)
    log(f"wrote {len(rows)} orders to {path} (table in.c-shop.orders)")


if __name__ == "__main__":
    main()
