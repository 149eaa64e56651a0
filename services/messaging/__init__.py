"""Messages in and out: the transports' outbound side, the outbox, the update log."""
