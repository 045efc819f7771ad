-- ping --
-- A trivial statement: is the database there?
SELECT 1 AS ok;

-- upsert_team --
-- Create the team if it does not exist; its id either way
INSERT INTO teams (name) VALUES (%(team)s)
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING id;

-- upsert_users --
-- Create the users that do not exist yet (sorted, so concurrent callers lock rows
-- in the same order); the ids of all of them
INSERT INTO users (username)
SELECT DISTINCT username FROM unnest(%(names)s::text[]) AS names (username) ORDER BY username
ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username
RETURNING id, username;

-- insert_schedule --
-- Store a schedule's own row; a duplicate (team, name) violates schedules_team_name_key
INSERT INTO schedules (
    team_id, name, start_time, end_time, overnight, timezone,
    rotation_kind, rotation_every, rotation_start, priority
) VALUES (
    %(team_id)s, %(name)s, %(start)s, %(end)s, %(overnight)s, %(timezone)s,
    %(kind)s, %(every)s, %(rotation_start)s, %(priority)s
)
RETURNING id;

-- update_schedule --
-- Replace a schedule's own row, keeping its id (so its place, history and overrides)
UPDATE schedules SET
    start_time = %(start)s, end_time = %(end)s, overnight = %(overnight)s,
    timezone = %(timezone)s, rotation_kind = %(kind)s, rotation_every = %(every)s,
    rotation_start = %(rotation_start)s, priority = %(priority)s
WHERE id = %(schedule_id)s;

-- delete_schedule_days_and_members --
-- Clear a schedule's days and members before writing them again
WITH days AS (DELETE FROM schedule_days WHERE schedule_id = %(schedule_id)s)
DELETE FROM schedule_members WHERE schedule_id = %(schedule_id)s;

-- insert_days --
-- Store a schedule's weekdays (Monday = 0)
INSERT INTO schedule_days (schedule_id, weekday)
SELECT %(schedule_id)s, weekday FROM unnest(%(days)s::smallint[]) AS days (weekday);

-- insert_members --
-- Store a schedule's members in rotation order (a user may appear more than once)
INSERT INTO schedule_members (schedule_id, position, user_id)
SELECT %(schedule_id)s, ordinality - 1, user_id
FROM unnest(%(user_ids)s::bigint[]) WITH ORDINALITY AS members (user_id, ordinality);

-- lock_schedule --
-- A team's schedule's id by name, the schedule locked until the end of the transaction
SELECT s.id
FROM schedules s JOIN teams t ON t.id = s.team_id
WHERE t.name = %(team)s AND s.name = %(name)s
FOR UPDATE OF s;

-- delete_schedule --
-- Delete a schedule; its days, members, history and limited overrides go with it
DELETE FROM schedules s USING teams t
WHERE t.id = s.team_id AND t.name = %(team)s AND s.name = %(name)s
RETURNING s.id;

-- list_teams --
-- All team names, sorted
SELECT name FROM teams ORDER BY name;

-- append_rotation_change --
-- Append to a schedule's history (the caller holds the schedule's row lock)
INSERT INTO rotation_changes (schedule_id, sequence, effective_at, position)
SELECT %(schedule_id)s, coalesce(max(sequence), 0) + 1, %(effective)s, %(position)s
FROM rotation_changes WHERE schedule_id = %(schedule_id)s;

-- find_team --
-- A team's id by name
SELECT id FROM teams WHERE name = %(team)s;

-- find_schedule --
-- A schedule's id by team id and name
SELECT id FROM schedules WHERE team_id = %(team_id)s AND name = %(name)s;

-- insert_override --
-- Store an override; its id
INSERT INTO overrides (team_id, schedule_id, user_id, starts_at, ends_at, reason)
VALUES (%(team_id)s, %(schedule_id)s, %(user_id)s, %(start)s, %(end)s, %(reason)s)
RETURNING id;

-- delete_override --
-- Delete one override of a team
DELETE FROM overrides o USING teams t
WHERE t.id = o.team_id AND t.name = %(team)s AND o.id = %(id)s
RETURNING o.id;

-- load_team --
-- One team as one JSON document (one round trip) in the shape of oncall_core.to_json(TeamState),
-- so the store reads it with from_json: days by English name, local times as "HH:MM:SS[.ffffff]",
-- instants in UTC with a Z and microseconds whatever the session's TimeZone, and a rotation's
-- kind, every and start (null for a manual rotation).
SELECT json_build_object(
    'team', t.name,
    'schedules', coalesce((
        SELECT json_agg(json_build_object(
            'team', t.name,
            'name', s.name,
            'members', (
                SELECT json_agg(u.username ORDER BY m.position)
                FROM schedule_members m JOIN users u ON u.id = m.user_id
                WHERE m.schedule_id = s.id
            ),
            'days', (
                SELECT json_agg(
                    (ARRAY['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday',
                        'Sunday'])[d.weekday + 1]
                    ORDER BY d.weekday
                )
                FROM schedule_days d WHERE d.schedule_id = s.id
            ),
            'start', s.start_time,
            'end', s.end_time,
            'overnight', s.overnight,
            'timezone', s.timezone,
            'rotation', json_build_object(
                'kind', s.rotation_kind,
                'every', s.rotation_every,
                'start', to_char(s.rotation_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            ),
            'priority', s.priority
        ) ORDER BY s.id)
        FROM schedules s WHERE s.team_id = t.id
    ), '[]'),
    'changes', coalesce((
        SELECT json_agg(json_build_object(
            'schedule', s.name,
            'effective', to_char(c.effective_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'position', c.position
        ) ORDER BY c.id)
        FROM schedules s JOIN rotation_changes c ON c.schedule_id = s.id
        WHERE s.team_id = t.id
    ), '[]'),
    'overrides', coalesce((
        SELECT json_agg(json_build_object(
            'member', u.username,
            'start', to_char(o.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'end', to_char(o.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'schedule', s.name,
            'reason', o.reason,
            'id', o.id
        ) ORDER BY o.id)
        FROM overrides o
        JOIN users u ON u.id = o.user_id
        LEFT JOIN schedules s ON s.id = o.schedule_id
        WHERE o.team_id = t.id
    ), '[]')
) AS state
FROM teams t WHERE t.name = %(team)s;

-- lock_migrations --
-- Wait for the session-level lock that lets one migrator run at a time
SELECT pg_advisory_lock(%(key)s);

-- unlock_migrations --
-- Release the migrators' lock
SELECT pg_advisory_unlock(%(key)s);

-- create_schema_migrations --
-- The table of applied migration versions (the first thing a migrator needs)
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- applied_migrations --
-- The versions already applied
SELECT version FROM schema_migrations;

-- record_migration --
-- Record one applied migration
INSERT INTO schema_migrations (version, name) VALUES (%(version)s, %(name)s);
