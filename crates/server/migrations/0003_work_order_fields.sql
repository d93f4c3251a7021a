-- Work orders get real title, contact phone and due time (the body JSON stays the source of
-- truth; these columns serve the due-time views and search). Same dialect rules as 0001:
-- plain ALTER TABLE ... ADD COLUMN that SQLite and PostgreSQL both accept, BIGINT unix
-- microseconds. Rows stored before this migration have no such fields in their body: the
-- defaults below match what the domain reads for them (empty title, no phone, no due time).
-- Statements end with a semicolon at the end of a line.

ALTER TABLE work_orders ADD COLUMN title TEXT NOT NULL DEFAULT '';

ALTER TABLE work_orders ADD COLUMN contact_phone TEXT;

-- Callbacks: the promised time; other kinds: the agent's due date. NULL = none.
ALTER TABLE work_orders ADD COLUMN due_at BIGINT;

CREATE INDEX work_orders_tenant_due ON work_orders (tenant_id, due_at);

CREATE INDEX work_orders_tenant_phone ON work_orders (tenant_id, contact_phone);
