-- Audit: append-only, hash-chained (Shenzhen Art. 75: the full process is traceable).
CREATE TABLE audit (
  seq       INTEGER PRIMARY KEY,
  ts        TEXT NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  object    TEXT,
  decision  TEXT,
  rule      TEXT,
  detail    TEXT,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);

-- Signed report envelopes waiting for the publisher; written in the same transaction as the state they describe.
CREATE TABLE outbox (
  seq      INTEGER PRIMARY KEY,
  id       TEXT NOT NULL UNIQUE,
  kind     TEXT NOT NULL,
  ts       TEXT NOT NULL,
  envelope TEXT NOT NULL,
  sent_at  TEXT
);
CREATE INDEX outbox_pending ON outbox(seq) WHERE sent_at IS NULL;

CREATE TABLE notices (
  id               TEXT PRIMARY KEY,
  created_at       TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('draft', 'verified', 'withdrawn')),
  content          TEXT NOT NULL,
  evidence_sha256  TEXT,
  evidence_at      TEXT,
  evidence_file    TEXT,
  verified_by      TEXT,
  verified_at      TEXT,
  expires_at       TEXT,
  withdrawn_at     TEXT,
  withdrawn_reason TEXT
);

CREATE TABLE notice_cameras (
  notice_id TEXT NOT NULL REFERENCES notices(id),
  camera_id TEXT NOT NULL,
  PRIMARY KEY (notice_id, camera_id)
);
CREATE INDEX notice_cameras_camera ON notice_cameras(camera_id);

-- Impact assessments for face processing (Measures Art. 9; PIPL Art. 55-56), kept >= 3 years.
CREATE TABLE pias (
  id           TEXT PRIMARY KEY,
  subject      TEXT NOT NULL,
  version      INTEGER NOT NULL,
  content      TEXT NOT NULL,
  signed_by    TEXT NOT NULL,
  signed_at    TEXT NOT NULL,
  review_by    TEXT NOT NULL,
  retain_until TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  UNIQUE (subject, version)
);

CREATE TABLE pia_cameras (
  pia_id    TEXT NOT NULL REFERENCES pias(id),
  camera_id TEXT NOT NULL,
  PRIMARY KEY (pia_id, camera_id)
);

CREATE TABLE images (
  id              TEXT PRIMARY KEY,
  camera_id       TEXT NOT NULL,
  notice_id       TEXT NOT NULL REFERENCES notices(id),
  pia_id          TEXT REFERENCES pias(id),
  captured_at     TEXT NOT NULL,
  stored_at       TEXT NOT NULL,
  purpose         TEXT NOT NULL CHECK (purpose = 'public-safety'),
  original_sha256 TEXT NOT NULL,
  bytes           INTEGER NOT NULL,
  width           INTEGER NOT NULL,
  height          INTEGER NOT NULL,
  retain_until    TEXT NOT NULL,
  legal_hold      INTEGER NOT NULL DEFAULT 0,
  hold_reason     TEXT,
  blob_file       TEXT NOT NULL UNIQUE
);
CREATE INDEX images_expiry ON images(retain_until) WHERE legal_hold = 0;
CREATE INDEX images_camera_time ON images(camera_id, captured_at);
