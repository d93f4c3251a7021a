-- The center's playbook (wrap-up codes, Not-ready reasons, scripted phrases, the after-call-work
-- time box): one JSON document per tenant, validated by the server before it is stored (see
-- crates/playbook). A tenant without a row uses the built-in default (revision 0). Saved with
-- the revision it was edited from: a stale edit is refused (409), never merged. Times are
-- BIGINT unix microseconds, as in 0001.
CREATE TABLE playbooks (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    updated_by TEXT NOT NULL REFERENCES users(id),
    updated_at BIGINT NOT NULL
);
