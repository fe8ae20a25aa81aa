"""ex-adform/campaigns: extract Adform campaign statistics into data/in/adform/campaigns.csv.

Offline and deterministic. Set the parameter "simulateOutage": true to make the job
fail the way a real API outage would (exit 1, nothing written), e.g. to see
continueOnFailure at work.

Parameters (ORCHRECON_PARAMETERS): since (YYYY-MM-DD), days, seed, devices,
simulateOutage, output.
"""

from __future__ import annotations

import os
import random
from datetime import timedelta

from common import ADFORM_CAMPAIGNS, date_param, fail, log, money, param, parameters, write_csv


def main() -> None:
    params = parameters()
    since = date_param(params, "since", "2026-01-05")
    days = param(params, "days", 7, int)
    seed = param(params, "seed", 7, int)
    devices = param(params, "devices", ["desktop", "mobile"], list)
    outage = param(params, "simulateOutage", False, bool)
    output = param(params, "output", "data/in/adform/campaigns.csv", str)
    if days < 1:
        fail("parameter 'days' must be at least 1")
    if not devices or not all(isinstance(d, str) and d for d in devices):
        fail("parameter 'devices' must be a non-empty list of strings")

    api = os.environ.get("ADFORM_API_URL", "https://api.adform.com/v1/buyer/stats")
    log(f"requesting {len(ADFORM_CAMPAIGNS)} campaign(s) from {api} (offline sample, seed {seed})")
    log(f"report period {since} .. {since + timedelta(days=days - 1)}, devices: {', '.join(devices)}")
    if outage:
        fail(f"{api} answered 503 Service Unavailable (simulated outage: parameter simulateOutage is true); "
             "no data written")

    rng = random.Random(seed)
    rows = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        for campaign_id, name in ADFORM_CAMPAIGNS:
            for device in devices:
                impressions = rng.randint(400, 3_000)
                clicks = impressions * rng.randint(5, 20) // 1000  # CTR 0.5 % .. 2 %
                spend_cents = clicks * rng.randint(8, 20)  # CPC 0.08 .. 0.20 EUR
                rows.append(
                    [day.isoformat(), campaign_id, name, device, impressions, clicks, money(spend_cents)]
                )
    header = ["date", "campaign_id", "campaign_name", "device", "impressions", "clicks", "spend"]
    path = write_csv(output, header, rows)
    log(f"wrote {len(rows)} rows to {path} (table in.c-adform.campaigns)")


if __name__ == "__main__":
    main()
