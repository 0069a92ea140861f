"""reengage: patient reengagement analytics for outpatient clinics."""
