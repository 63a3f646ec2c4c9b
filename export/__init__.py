"""Genealogy export: a typed view of stored rows and one writer per file format."""
