"""What a running translated flow tells about itself: stats, Prometheus metrics, structured logs.

Neutral ground: the translator and the connectors both report here, and this package
imports neither.
"""
