-- The initial schema: teams, users, schedules with days and member order,
-- append-only rotation history, and overrides.
--
-- Learned from the seed service's schema, with its mistakes fixed:
-- * schedule_members is keyed by (schedule, position), so a member may appear
--   more than once in a rotation (the seed's UNIQUE (schedule_id, user_id) forbade it);
-- * a schedule stores its IANA time zone beside its local times;
-- * the rotation is an append-only history, not one mutable position.

CREATE TABLE teams (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CONSTRAINT teams_name_key UNIQUE CHECK (name <> ''),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    text NOT NULL CONSTRAINT users_username_key UNIQUE CHECK (username <> ''),
    email       text,
    phone       text,
    slack_id    text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE team_members (
    team_id     bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE schedules (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id         bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (name <> ''),
    start_time      time NOT NULL,
    end_time        time NOT NULL,
    overnight       boolean NOT NULL DEFAULT false,
    timezone        text NOT NULL DEFAULT 'UTC',
    rotation_kind   text NOT NULL DEFAULT 'manual'
        CHECK (rotation_kind IN ('manual', 'hourly', 'daily', 'weekly', 'per_shift')),
    rotation_every  integer NOT NULL DEFAULT 1 CHECK (rotation_every >= 1),
    rotation_start  timestamptz,
    priority        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schedules_team_name_key UNIQUE (team_id, name),
    CONSTRAINT schedules_window_check CHECK (
        (NOT overnight AND start_time < end_time) OR (overnight AND end_time <= start_time)
    ),
    CONSTRAINT schedules_rotation_start_check CHECK (
        (rotation_kind = 'manual') = (rotation_start IS NULL)
    )
);

CREATE TABLE schedule_days (
    schedule_id bigint NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),  -- Monday = 0
    PRIMARY KEY (schedule_id, weekday)
);

CREATE TABLE schedule_members (
    schedule_id bigint NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0),
    user_id     bigint NOT NULL REFERENCES users (id),
    PRIMARY KEY (schedule_id, position)
);

-- Append-only: rows are inserted, never updated.  (schedule, sequence) numbers a
-- schedule's changes and makes two concurrent appends with one number impossible;
-- id keeps the order of appends across a team's schedules.
CREATE TABLE rotation_changes (
    id           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    schedule_id  bigint NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    sequence     integer NOT NULL CHECK (sequence >= 1),
    effective_at timestamptz NOT NULL,
    position     integer CHECK (position >= 0),  -- NULL: advance by one member
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, sequence)
);

CREATE TABLE overrides (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id     bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    schedule_id bigint REFERENCES schedules (id) ON DELETE CASCADE,  -- NULL: team-wide
    user_id     bigint NOT NULL REFERENCES users (id),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT overrides_interval_check CHECK (ends_at > starts_at)
);

-- Loading a team reads these by team, in creation order.
CREATE INDEX schedules_team_idx ON schedules (team_id, id);
CREATE INDEX overrides_team_idx ON overrides (team_id, id);
