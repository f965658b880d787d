"""The analytics engine: pure functions over pydantic models, no I/O and no MCP.

One module per idea; import from the module (importing this package loads nothing heavy):

- `lead_scoring` (+ `lead_weights`): 0-100 lead score, grade, factor contributions.
- `sentiment`: VADER per review, aggregate, monthly trend, themes.
- `growth_signals`: review velocity, rating trend, replies, photos, hiring, profile changes.
- `competitive`: percentile ranks against competitors, strengths, gaps, who to watch.
- `health` (+ `health_features`): health score, churn probability, ranked drivers, an
  optional logistic model fitted on labelled history.
- `retention`: a ranked playbook from the churn drivers.
- `ltv`: BG/NBD and Gamma-Gamma maximum-likelihood fits; `clv`: P(alive), expected
  purchases and spend, CLV with an interval; `purchase_summary`: the RFM summary they need.
- `benchmarks`: industry quartiles under the five-tenant rule.

Every result model derives from `models.AnalysisResult`: method, inputs_used, confidence and
explanation say how it was computed.
"""
