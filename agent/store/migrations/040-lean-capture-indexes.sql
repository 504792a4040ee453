-- Every stored frame inserts one images row and one outbox row, and each UNIQUE index is one more
-- B-tree insert and one more WAL page per capture. Two of them guarded nothing:
--  * images.blob_file is derived from the image id (the blob store names files "<2 chars>/<id>.cwb"),
--    so a CHECK that it is so keeps it unique through the primary key, without an index;
--  * outbox.id is a random UUID that nothing looks up (the registry drops duplicates by agent and seq).
CREATE TABLE images_new (
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
  blob_file       TEXT NOT NULL CHECK (blob_file = substr(id, 1, 2) || '/' || id || '.cwb')
);
INSERT INTO images_new (id, camera_id, notice_id, pia_id, captured_at, stored_at, purpose, original_sha256, bytes, width, height,
                        retain_until, legal_hold, hold_reason, blob_file)
  SELECT id, camera_id, notice_id, pia_id, captured_at, stored_at, purpose, original_sha256, bytes, width, height,
         retain_until, legal_hold, hold_reason, blob_file FROM images;
DROP TABLE images;
ALTER TABLE images_new RENAME TO images;
CREATE INDEX images_expiry ON images(retain_until) WHERE legal_hold = 0;
CREATE INDEX images_camera_time ON images(camera_id, captured_at);

CREATE TABLE outbox_new (
  seq      INTEGER PRIMARY KEY,
  id       TEXT NOT NULL,
  kind     TEXT NOT NULL,
  ts       TEXT NOT NULL,
  envelope TEXT NOT NULL,
  sent_at  TEXT
);
INSERT INTO outbox_new (seq, id, kind, ts, envelope, sent_at) SELECT seq, id, kind, ts, envelope, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox(seq) WHERE sent_at IS NULL;
