"""Storage: the kernel at this level (engine, schema, migrations, ids, errors, time,
idempotent writes), the job system in :mod:`kinhub.db.jobs`, the queries that build
answers in :mod:`kinhub.db.answers`.  Every SQL statement lives in this package."""
