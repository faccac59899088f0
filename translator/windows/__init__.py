"""Event time and windows: Atlas's window stages and ``$setWindowFields`` over a stream.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/
"""
