"""The scheduler: named jobs, run once per slot whichever process gets there first."""
