-- Work-order sync (see src/work_orders.rs). Same dialect rules as 0001: TEXT ids, BIGINT unix
-- microseconds, JSON in TEXT columns. Statements end with a semicolon at the end of a line.

-- Change clock for work orders: the last change_seq handed out in the tenant (a counter, bumped
-- under the tenant row lock, so changes commit in change_seq order even across instances).
ALTER TABLE tenants ADD COLUMN order_clock BIGINT NOT NULL DEFAULT 0;

CREATE TABLE tenant_settings (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id),
    -- JSON of seatline_work_orders::SlaPolicy; NULL = the default policy.
    sla_policy TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE work_orders (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    team_id TEXT NOT NULL,
    assignee TEXT,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    -- JSON of the whole seatline_work_orders::WorkOrder (the source of truth).
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    change_seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX work_orders_tenant_seq ON work_orders (tenant_id, change_seq);

CREATE INDEX work_orders_tenant_team ON work_orders (tenant_id, team_id);

CREATE INDEX work_orders_tenant_assignee ON work_orders (tenant_id, assignee);

CREATE TABLE sync_clients (
    client_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    last_mutation_id BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

CREATE TABLE mutation_log (
    client_id TEXT NOT NULL REFERENCES sync_clients (client_id),
    mutation_id BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected')),
    -- JSON {code, message} when rejected.
    rejection TEXT,
    -- The order change this mutation produced (NULL when rejected or a no-op).
    change_seq BIGINT,
    applied_at BIGINT NOT NULL,
    UNIQUE (client_id, mutation_id)
);

CREATE INDEX mutation_log_order ON mutation_log (order_id);

CREATE TABLE conflicts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    order_id TEXT NOT NULL REFERENCES work_orders (id),
    -- The order change that recorded the conflict; pulls hand it out with that change.
    change_seq BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    -- JSON of seatline_work_orders::Conflict.
    body TEXT NOT NULL,
    PRIMARY KEY (order_id, change_seq, idx)
);

CREATE INDEX conflicts_tenant_seq ON conflicts (tenant_id, change_seq);
