"""Health of the parts Error Desk runs on (database, broker, Redis, workers), for /healthz and /system/."""
