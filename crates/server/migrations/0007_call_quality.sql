-- A call's final media quality as the agent's phone measured it (RTCP reports and its own
-- receive statistics): estimated MOS (1-5), loss of the caller's audio and, from the peer's
-- reports, of ours (percent), interarrival jitter and round-trip time (milliseconds). All
-- optional: a call without media has none, and a peer that sent no RTCP report leaves the
-- remote loss and the RTT unknown. Supervisors find poor calls by them.
ALTER TABLE calls ADD COLUMN mos DOUBLE PRECISION;

ALTER TABLE calls ADD COLUMN loss_percent DOUBLE PRECISION;

ALTER TABLE calls ADD COLUMN remote_loss_percent DOUBLE PRECISION;

ALTER TABLE calls ADD COLUMN jitter_ms DOUBLE PRECISION;

ALTER TABLE calls ADD COLUMN rtt_ms DOUBLE PRECISION;
