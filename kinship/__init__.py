"""Model kinship: weights read tensor by tensor, metrics, sampled mode, the
measure-and-store service, partners and planning."""
