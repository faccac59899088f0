"""The stream processing instance behind ``sluice serve``: stock mongosh's ``sp`` drives it as it drives Atlas.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/manage-stream-processor/

- ``wire``: MongoDB wire protocol framing (the OP_QUERY handshake, OP_MSG).
- ``server``: the asyncio server: handshake, ordinary commands, authentication gate, TLS.
- ``scram``: SCRAM-SHA-256 and the users file.
- ``service``: the twelve stream commands over the processors' store and supervisor.
"""
