"""Connecting Celigo accounts (``connect``: token check, region probe, add) and their beat schedules
(``schedules``)."""
