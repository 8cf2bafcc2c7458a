"""Small helpers that know little of Django and nothing of Error Desk's domain."""
