-- A site's lifecycle as the environment bureau manages it: new, active, maintenance, stopped,
-- retired. sites.status holds the status in force; every change is kept here with the date it
-- took effect (which may be earlier than when it was recorded: a stop reported a day late),
-- the reason given, who recorded it and from where, so that "since when has this site been
-- stopped, and why" has an answer years later.
CREATE TABLE site_status_changes (
    id           INTEGER PRIMARY KEY,
    site_id      INTEGER NOT NULL REFERENCES sites(id),
    previous     TEXT,
    status       TEXT NOT NULL,
    effective_ms INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    origin       TEXT NOT NULL,
    at_ms        INTEGER NOT NULL
);
CREATE INDEX site_status_changes_by_site ON site_status_changes (site_id, id);
