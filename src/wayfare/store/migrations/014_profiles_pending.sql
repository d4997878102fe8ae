-- 014: the ingest writer may update profiles' first and last seen a moment after the events that widen them
-- (under a sustained load, at most every quarter second instead of in every group commit). A row here says: the
-- events of this workspace with seq > after_seq may not yet be counted in their people's profiles. It is written
-- in the transaction of the first event it covers and removed in the transaction that catches the profiles up,
-- so after a crash the next writer catches up from it (ingest.pipeline.catch_up_profiles).
CREATE TABLE IF NOT EXISTS profiles_pending (
    workspace_id VARCHAR PRIMARY KEY,
    after_seq BIGINT NOT NULL
);
