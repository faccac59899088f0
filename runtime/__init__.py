"""The runtime vocabulary every other package shares, and what a running flow tells about itself.

Neutral ground at the bottom of the import graph: chunks and dead letters, stream metadata,
Extended JSON, redaction, the missing-value sentinel, clean stops, stats, metrics and logs.
The translator and the connectors both import it; it imports neither.
"""
