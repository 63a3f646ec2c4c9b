"""The flows that join rooms: the nightly tick, crawl/ingest/reparse-then-queue,
the worker loop and the demo."""
