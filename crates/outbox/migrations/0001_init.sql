-- The desktop's local work-order store (schema version 1).
-- meta: client_id, next_mutation_id, hlc (last stamp, JSON), pull_cursor, server_last_mutation_id.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- The last copy of each order the server sent (JSON WorkOrder), the base for rebasing.
CREATE TABLE IF NOT EXISTS server_orders (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
-- What the agent sees: the server copy with still-pending local mutations re-applied on top.
CREATE TABLE IF NOT EXISTS local_orders (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    team TEXT NOT NULL,
    assignee TEXT,
    status TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS local_orders_assignee ON local_orders (assignee);
CREATE INDEX IF NOT EXISTS local_orders_team ON local_orders (team);
-- Mutations in the order they were made, until a pull shows their effect in the server copy:
-- pending (to send), acked (applied by the server, not yet pulled), rejected (kept out of the
-- local view; the agent sees it in problems).
CREATE TABLE IF NOT EXISTS outbox (
    mutation_id INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acked', 'rejected'))
);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (order_id);
-- What the agent must be shown: rejected mutations and overwritten fields. Never dropped.
CREATE TABLE IF NOT EXISTS problems (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('rejected', 'conflict')),
    order_id TEXT NOT NULL,
    mutation_id INTEGER,
    body TEXT NOT NULL,
    seen INTEGER NOT NULL DEFAULT 0
);
PRAGMA user_version = 1;
