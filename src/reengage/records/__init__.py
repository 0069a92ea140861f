"""Writing and reading the clinic's records: patients, appointments, communications, followups."""
