-- One row per configured camera, owned by agent/cameras/inventory-store.ts: the last ONVIF
-- inventory (JSON, no credentials) and the health state whose transitions the supervisor reports,
-- so an agent restart does not announce again a camera that was already online.
-- online: NULL until the camera was first reached or given up on.
CREATE TABLE camera_inventory (
  camera_id    TEXT PRIMARY KEY,
  inventory    TEXT,
  refreshed_at TEXT,
  online       INTEGER CHECK (online IN (0, 1)),
  last_error   TEXT
);
