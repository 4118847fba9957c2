-- Cameras at sites, and the snapshots taken when an alarm fires there.

-- A camera a site's operator set up: a live-view address the browser can play (MJPEG, HLS) and
-- a snapshot address forewarn itself grabs (HTTP JPEG, or RTSP through ffmpeg). Addresses may
-- hold the camera's credentials; they are answered only to those who may change the registry.
-- A removed camera is retired, not deleted: the snapshots it took stay with their alarms.
CREATE TABLE cameras (
    id           INTEGER PRIMARY KEY,
    site_id      INTEGER NOT NULL REFERENCES sites(id),
    name         TEXT NOT NULL,
    live_url     TEXT NOT NULL DEFAULT '',
    snapshot_url TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'active',
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);
CREATE UNIQUE INDEX cameras_one_name_per_site ON cameras (site_id, name) WHERE status = 'active';
CREATE INDEX cameras_by_site ON cameras (site_id, status);

-- One grab of one camera for one alarm: the JPEG's sha256 and size (the file lies in
-- DATA/snapshots/ALARM/SHA256.jpg), or why there is none (the camera did not answer).
CREATE TABLE alarm_snapshots (
    id          INTEGER PRIMARY KEY,
    alarm_id    INTEGER NOT NULL REFERENCES alarms(id),
    camera_id   INTEGER NOT NULL REFERENCES cameras(id),
    camera_name TEXT NOT NULL,
    taken_ms    INTEGER NOT NULL,
    took_ms     INTEGER NOT NULL,
    sha256      TEXT NOT NULL DEFAULT '',
    size        INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alarm_snapshots_by_alarm ON alarm_snapshots (alarm_id, id);
