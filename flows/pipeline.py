"""The dataflow ``python -m bytewax.run flows.pipeline`` runs.

``SLUICE_PIPELINE`` names a pipeline file and ``SLUICE_CONNECTIONS`` a registry file; with
neither set, the sample pipeline ``examples/solar.json`` runs, needing no server.
SIGTERM and SIGINT stop it cleanly (``connectors.stop``).
"""

import os
from pathlib import Path

from connectors import stop

stop.install()  # first: a signal during the imports below must already stop cleanly

from translator import translate  # noqa: E402
from translator.connections import load_registry  # noqa: E402
from translator.parse import load_pipeline  # noqa: E402

DEFAULT_PIPELINE = Path(__file__).resolve().parent.parent / "examples" / "solar.json"

_connections = os.environ.get("SLUICE_CONNECTIONS")
flow = translate(
    load_pipeline(os.environ.get("SLUICE_PIPELINE") or str(DEFAULT_PIPELINE)),
    load_registry(_connections) if _connections else None,
).flow
