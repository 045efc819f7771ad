-- The audit trail (issue 12): who changed what, when, in which request.
--
-- * One row per effect of a write (oncall_core._audit), inserted in the
--   transaction of the change itself: no change without its rows, no row
--   without its change.
-- * Append-only, like the schedule versions it describes: a trigger refuses
--   UPDATE, DELETE and TRUNCATE.
-- * team_id is NULL for a change that is no team's (an API key's).  detail is
--   the effect as stored, in oncall_core.to_json's shape.
-- * Listed newest first, by team or all together: the primary key and
--   (team_id, id) serve both with a backward index scan.

CREATE TABLE audit_entries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id    bigint REFERENCES teams (id),
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    request_id text,
    action     text NOT NULL,
    schedule   text,
    detail     jsonb NOT NULL
);
CREATE INDEX audit_entries_team_idx ON audit_entries (team_id, id);

CREATE FUNCTION audit_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %: the audit trail is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate
    BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
