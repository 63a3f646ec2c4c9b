"""Genealogy facts from the Hub: the card and recipe parser, the crawl strategy,
re-parse and local ingest."""
