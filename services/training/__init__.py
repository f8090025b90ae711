"""Training: programmes, courses and cohorts; applications, ranked selection and waitlists,
attendance, completion and reports."""
