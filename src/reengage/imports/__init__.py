"""Bringing a clinic's history in from the files it already has: CSV exports read through a
mapping profile, FHIR R4 Bundles and Bulk Data NDJSON, all written by one import service."""
