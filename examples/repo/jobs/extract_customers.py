"""ex-crm/customers: extract CRM customers into data/in/crm/customers.csv.

CRM_API_KEY is optional: the example always uses its offline sample, so the extract
is the same with or without it.

Parameters (ORCHRECON_PARAMETERS): customers, seed, output.
"""

from __future__ import annotations

import os
import random
from datetime import date, timedelta

from common import fail, log, param, parameters, write_csv

FIRST = ["Anna", "Jan", "Petra", "Tomas", "Eva", "Martin", "Lucie", "Jakub", "Klara", "David"]
LAST = ["Novak", "Svoboda", "Dvorak", "Cerny", "Prochazka", "Kucera", "Vesely", "Horak"]
COUNTRIES = ["CZ", "SK", "DE", "AT", "PL"]
COUNTRY_WEIGHTS = [55, 15, 15, 8, 7]
SEGMENTS = ["consumer", "consumer", "consumer", "office", "horeca"]


def main() -> None:
    params = parameters()
    customers = param(params, "customers", 300, int)
    seed = param(params, "seed", 11, int)
    output = param(params, "output", "data/in/crm/customers.csv", str)
    if customers < 1:
        fail("parameter 'customers' must be at least 1")

    if os.environ.get("CRM_API_KEY"):
        log("CRM_API_KEY is set; this example still reads the offline sample")
    else:
        log("CRM_API_KEY not set; reading the offline sample")
    rng = random.Random(seed)
    rows = []
    for number in range(1, customers + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        signup = date(2024, 1, 1) + timedelta(days=rng.randint(0, 730))
        rows.append([
            f"C{number:04d}",
            f"{first} {last}",
            f"{first}.{last}.{number}@example.com".lower(),
            rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0],
            rng.choice(SEGMENTS),
            signup.isoformat(),
        ])
    header = ["customer_id", "name", "email", "country", "segment", "signup_date"]
    path = write_csv(output, header, rows)
    log(f"wrote {len(rows)} customers to {path} (table in.c-crm.customers)")


if __name__ == "__main__":
    main()
