"""The kinship job system: job keys and statuses, which jobs the genealogy calls
for, and the leased queue."""
