"""What the operator and the jobs keep: the audit log, faults, job runs, throttles."""
