"""The REST API at /api/v1/: DRF viewsets that declare their queryset (from ``dashboard.access``), their
serializer and their filterset (``ErrorFilter``, the HTML list's), so a script sees and does what its owner
could in the browser, no more (docs/api.md)."""
