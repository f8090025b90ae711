"""Training: programmes, cohorts, enrolment and completion."""
