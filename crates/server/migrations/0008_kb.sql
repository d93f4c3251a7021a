-- The center's knowledge base, distributed to the desktops, which search it offline. Supervisors
-- and admins publish articles (imported from Markdown/HTML/JSON folders by `seatline kb
-- publish`); every agent of the tenant reads them. Each change takes the next number of the
-- tenant's KB counter (`tenants.kb_revision`, advanced with UPDATE ... RETURNING, which holds
-- the tenant row until commit), so changes commit in revision order and a desktop that pulls
-- "after revision N" never skips one. Deletes are tombstones (`deleted_at`), so desktops learn
-- about them. Times are BIGINT unix microseconds, as in 0001.
ALTER TABLE tenants ADD COLUMN kb_revision BIGINT NOT NULL DEFAULT 0;

CREATE TABLE kb_articles (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL,
    lang TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_by TEXT NOT NULL REFERENCES users(id),
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX kb_articles_tenant_revision ON kb_articles (tenant_id, revision);
