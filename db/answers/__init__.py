"""The queries that build answers: lineage, partner candidates, gain, licenses,
stats, show and the export's graph stream."""
