"""Platform adapters (n8n, Make.com, ClickUp, Apify) behind the spec's ExternalTool contract,
with the retries, rate limits, circuit breakers, usage and health they share."""
