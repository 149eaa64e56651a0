"""Scheduled jobs (APScheduler): they use services and send through the notifier interface."""
