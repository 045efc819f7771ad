-- Schedule versions (issue 10): a schedule is a sequence of versions, each in
-- force from its instant until the next version or deletion of the same name.
--
-- * `schedules` stays the identity row of a (team, name): rotation_changes and
--   overrides reference it, and writers lock it FOR UPDATE to serialize the
--   writes of one schedule.  It loses its definition columns and is never
--   deleted again (a deletion is a version).
-- * `schedule_versions` holds every version and deletion, append-only: its id
--   is the order of writing (what TeamState.schedules keeps), `effective_at`
--   NULL means "from the beginning of time" (a first version only), and a
--   deletion row has `deleted` and no definition.  Its days and members are
--   `schedule_version_days` and `schedule_version_members`.
-- * A trigger refuses UPDATE, DELETE and TRUNCATE on the three versions tables,
--   so the history cannot be rewritten, by this code or by hand.
-- * Every existing schedule becomes its first version (effective NULL, in the
--   order of the schedules' ids, so ties in priority keep their order): no
--   answer changes.
--
-- What an older replica (code that knows migrations up to 0002) does against
-- this schema: starting, its migrator refuses the database (SchemaTooNew); one
-- already running fails every schedule read and write with an undefined column
-- or table error (its `load_team` reads schedules.start_time), and its
-- schedule delete is refused by the versions' foreign key: it cannot write a
-- definition this code would miss or drop history.  Stop or upgrade every
-- replica before (or while) running this migration.

CREATE TABLE schedule_versions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No cascade: identity rows are never deleted, and deleting one that has
    -- history is refused rather than taking its history along.
    schedule_id     bigint NOT NULL REFERENCES schedules (id) ON DELETE RESTRICT,
    effective_at    timestamptz,  -- NULL: in force from the beginning of time
    deleted         boolean NOT NULL DEFAULT false,
    start_time      time,
    end_time        time,
    overnight       boolean,
    timezone        text,
    rotation_kind   text
        CHECK (rotation_kind IN ('manual', 'hourly', 'daily', 'weekly', 'per_shift')),
    rotation_every  integer CHECK (rotation_every >= 1),
    rotation_start  timestamptz,
    priority        integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- At most one entry of a schedule's history per instant (the model's rule too).
    CONSTRAINT schedule_versions_effective_key UNIQUE (schedule_id, effective_at),
    -- A deletion has an instant and no definition; a definition has all of it.
    CONSTRAINT schedule_versions_deletion_check CHECK (
        CASE WHEN deleted THEN
            effective_at IS NOT NULL
            AND num_nonnulls(start_time, end_time, overnight, timezone, rotation_kind,
                rotation_every, rotation_start, priority) = 0
        ELSE
            num_nulls(start_time, end_time, overnight, timezone, rotation_kind,
                rotation_every, priority) = 0
        END
    ),
    CONSTRAINT schedule_versions_window_check CHECK (
        deleted
        OR (NOT overnight AND start_time < end_time)
        OR (overnight AND end_time <= start_time)
    ),
    CONSTRAINT schedule_versions_rotation_start_check CHECK (
        deleted OR (rotation_kind = 'manual') = (rotation_start IS NULL)
    )
);

-- UNIQUE lets several NULLs through: at most one beginning-of-time version.
CREATE UNIQUE INDEX schedule_versions_first_key
    ON schedule_versions (schedule_id) WHERE effective_at IS NULL;

CREATE TABLE schedule_version_days (
    version_id  bigint NOT NULL REFERENCES schedule_versions (id),
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),  -- Monday = 0
    PRIMARY KEY (version_id, weekday)
);

CREATE TABLE schedule_version_members (
    version_id  bigint NOT NULL REFERENCES schedule_versions (id),
    position    integer NOT NULL CHECK (position >= 0),
    user_id     bigint NOT NULL REFERENCES users (id),
    PRIMARY KEY (version_id, position)
);

-- Every existing schedule is its own first version, in id order.
INSERT INTO schedule_versions (
    schedule_id, effective_at, deleted, start_time, end_time, overnight, timezone,
    rotation_kind, rotation_every, rotation_start, priority, created_at
)
SELECT id, NULL, false, start_time, end_time, overnight, timezone,
    rotation_kind, rotation_every, rotation_start, priority, created_at
FROM schedules ORDER BY id;

INSERT INTO schedule_version_days (version_id, weekday)
SELECT v.id, d.weekday
FROM schedule_days d JOIN schedule_versions v ON v.schedule_id = d.schedule_id;

INSERT INTO schedule_version_members (version_id, position, user_id)
SELECT v.id, m.position, m.user_id
FROM schedule_members m JOIN schedule_versions v ON v.schedule_id = m.schedule_id;

DROP TABLE schedule_days;
DROP TABLE schedule_members;

ALTER TABLE schedules
    DROP CONSTRAINT schedules_window_check,
    DROP CONSTRAINT schedules_rotation_start_check,
    DROP COLUMN start_time,
    DROP COLUMN end_time,
    DROP COLUMN overnight,
    DROP COLUMN timezone,
    DROP COLUMN rotation_kind,
    DROP COLUMN rotation_every,
    DROP COLUMN rotation_start,
    DROP COLUMN priority;

-- Append-only by construction.
CREATE FUNCTION schedule_versions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %: schedule versions are append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER schedule_versions_append_only
    BEFORE UPDATE OR DELETE ON schedule_versions
    FOR EACH ROW EXECUTE FUNCTION schedule_versions_append_only();
CREATE TRIGGER schedule_versions_no_truncate
    BEFORE TRUNCATE ON schedule_versions
    FOR EACH STATEMENT EXECUTE FUNCTION schedule_versions_append_only();
CREATE TRIGGER schedule_version_days_append_only
    BEFORE UPDATE OR DELETE ON schedule_version_days
    FOR EACH ROW EXECUTE FUNCTION schedule_versions_append_only();
CREATE TRIGGER schedule_version_days_no_truncate
    BEFORE TRUNCATE ON schedule_version_days
    FOR EACH STATEMENT EXECUTE FUNCTION schedule_versions_append_only();
CREATE TRIGGER schedule_version_members_append_only
    BEFORE UPDATE OR DELETE ON schedule_version_members
    FOR EACH ROW EXECUTE FUNCTION schedule_versions_append_only();
CREATE TRIGGER schedule_version_members_no_truncate
    BEFORE TRUNCATE ON schedule_version_members
    FOR EACH STATEMENT EXECUTE FUNCTION schedule_versions_append_only();

-- list_teams pages through teams in code point order (Python's), whatever the
-- database's collation.
CREATE INDEX teams_name_c_idx ON teams (name COLLATE "C");
