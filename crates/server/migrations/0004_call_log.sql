-- The call log and the agents' state history, uploaded by the desktops (which keep their own
-- copy first and push it when the server is reachable). Same dialect rules as 0001: times are
-- BIGINT unix milliseconds as the desktop's clock gave them (the call happened there); the
-- server's own receive time is BIGINT unix microseconds. Statements end with a semicolon at the
-- end of a line.

-- One row per call per agent; a desktop re-sends a call whenever it changes (answer, end,
-- wrap-up), with a higher revision: older or equal revisions are ignored, so retries and
-- duplicates change nothing.
CREATE TABLE calls (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    agent_id TEXT NOT NULL REFERENCES users(id),
    call_id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    direction TEXT NOT NULL,
    number TEXT,
    display_name TEXT,
    e164 TEXT,
    customer_id TEXT,
    ivr TEXT NOT NULL,
    ring_at BIGINT NOT NULL,
    answer_at BIGINT,
    end_at BIGINT,
    hold_ms BIGINT NOT NULL,
    transferred_to TEXT,
    end_reason TEXT,
    wrap_up_code TEXT,
    wrap_up_at BIGINT,
    notes TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, call_id)
);

CREATE INDEX calls_tenant_customer ON calls (tenant_id, customer_id, ring_at);

CREATE INDEX calls_tenant_agent ON calls (tenant_id, agent_id, ring_at);

-- Every state change of an agent (Ready, Not ready with its reason, On call, After-call work);
-- the desktop names each entry, so an entry sent twice is stored once.
CREATE TABLE agent_states (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    agent_id TEXT NOT NULL REFERENCES users(id),
    entry_id TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    wrap_up_code TEXT,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, entry_id)
);

CREATE INDEX agent_states_tenant_agent ON agent_states (tenant_id, agent_id, at);
