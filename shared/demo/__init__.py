"""Demo data: a deterministic, believable book of business for several tenants.

`plan` decides what exists (tenants, each account's story, the churn ground truth),
`accounts` and `history` make the rows, `generator` streams them in batches, `encoding`
turns them into driver parameters, and `seed` writes them in one transaction.
"""
