-- pia_cameras is keyed (pia_id, camera_id); the per-frame "current assessment for this camera"
-- lookup starts from the camera, so it needs its own index (as notice_cameras has).
CREATE INDEX pia_cameras_camera ON pia_cameras(camera_id);
