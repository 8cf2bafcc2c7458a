"""The read side: which errors a filter matches, how many, in which groups, and the overview's aggregates.

``filters`` holds ``ErrorFilter``, the one filterset of the list, its counts, the CSV export, batch selection
and the API; every function here is handed a queryset that the access layer already scoped.
"""
