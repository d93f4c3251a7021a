-- Satisfaction scores from the center's post-call survey (an IVR or SMS survey system posts
-- them with a supervisor or admin account). Keyed by the call's id as the desktops log it (the
-- agent leg's SIP Call-ID), not joined by a foreign key: a score may arrive before the desktop
-- has uploaded its call. `scored_at` is the survey's time (unix ms); a later one replaces an
-- earlier one. `received_at` is unix microseconds, as in 0001.
CREATE TABLE call_scores (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    call_id TEXT NOT NULL,
    score BIGINT NOT NULL,
    comment TEXT,
    scored_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, call_id)
);
