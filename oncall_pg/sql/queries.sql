-- ping --
-- A trivial statement: is the database there?
SELECT 1 AS ok;

-- upsert_team --
-- Create the team if it does not exist, or raise its revision (migration 0007) if it does;
-- its id either way.  Its row is locked until the end of the transaction
INSERT INTO teams (name) VALUES (%(team)s)
ON CONFLICT (name) DO UPDATE SET revision = teams.revision + 1
RETURNING id;

-- upsert_users --
-- Create the users that do not exist yet (sorted, so concurrent callers lock rows
-- in the same order); the ids of all of them
INSERT INTO users (username)
SELECT DISTINCT username FROM unnest(%(names)s::text[]) AS names (username) ORDER BY username
ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username
RETURNING id, username;

-- insert_schedule --
-- Create a schedule's identity row if the team has none of that name (a re-creation
-- keeps its identity row, so its history and overrides); its id when created (the
-- insert holds its row lock), no row when the name exists
INSERT INTO schedules (team_id, name) VALUES (%(team_id)s, %(name)s)
ON CONFLICT ON CONSTRAINT schedules_team_name_key DO NOTHING
RETURNING id;

-- insert_version --
-- Append a version of a schedule's definition (the caller holds the schedule's row lock);
-- its id, the order of writing
INSERT INTO schedule_versions (
    schedule_id, effective_at, start_time, end_time, overnight, timezone,
    rotation_kind, rotation_every, rotation_start, priority
) VALUES (
    %(schedule_id)s, %(effective)s, %(start)s, %(end)s, %(overnight)s, %(timezone)s,
    %(kind)s, %(every)s, %(rotation_start)s, %(priority)s
)
RETURNING id;

-- insert_deletion --
-- Append the end of a schedule (the caller holds the schedule's row lock)
INSERT INTO schedule_versions (schedule_id, effective_at, deleted)
VALUES (%(schedule_id)s, %(effective)s, true);

-- insert_days --
-- Store a version's weekdays (Monday = 0)
INSERT INTO schedule_version_days (version_id, weekday)
SELECT %(version_id)s, weekday FROM unnest(%(days)s::smallint[]) AS days (weekday);

-- insert_members --
-- Store a version's members in rotation order (a user may appear more than once)
INSERT INTO schedule_version_members (version_id, position, user_id)
SELECT %(version_id)s, ordinality - 1, user_id
FROM unnest(%(user_ids)s::bigint[]) WITH ORDINALITY AS members (user_id, ordinality);

-- lock_schedule --
-- A team's schedule's id by name, locked against other writers of the schedule until the end
-- of the transaction (NO KEY UPDATE: rows that merely reference it, such as a concurrent
-- override's, are not blocked, so that lock and theirs cannot deadlock)
SELECT s.id
FROM schedules s JOIN teams t ON t.id = s.team_id
WHERE t.name = %(team)s AND s.name = %(name)s
FOR NO KEY UPDATE OF s;

-- list_teams --
-- Teams in code point order after %(after)s (NULL: from the first), at most %(limit)s
-- (NULL: all), each with how many of its schedules are in force at %(at)s: those whose
-- latest version effective at or before then (NULL being the beginning of time) is
-- not a deletion
SELECT t.name AS team, (
    SELECT count(*)
    FROM schedules s
    CROSS JOIN LATERAL (
        SELECT v.deleted
        FROM schedule_versions v
        WHERE v.schedule_id = s.id AND (v.effective_at IS NULL OR v.effective_at <= %(at)s)
        ORDER BY v.effective_at DESC NULLS LAST
        LIMIT 1
    ) AS current
    WHERE s.team_id = t.id AND NOT current.deleted
) AS schedules
FROM teams t
WHERE %(after)s::text IS NULL OR t.name COLLATE "C" > %(after)s::text
ORDER BY t.name COLLATE "C"
LIMIT %(limit)s::bigint;

-- append_rotation_change --
-- Append to a schedule's history (the caller holds the schedule's row lock)
INSERT INTO rotation_changes (schedule_id, sequence, effective_at, position)
SELECT %(schedule_id)s, coalesce(max(sequence), 0) + 1, %(effective)s, %(position)s
FROM rotation_changes WHERE schedule_id = %(schedule_id)s;

-- revise_team --
-- Raise a team's revision (migration 0007), the first statement of every write of a
-- team but a create (upsert_team); its id (no row: no such team).  Its row is locked until
-- the end of the transaction against the team's other writers.  The lock is NO KEY UPDATE
-- (no key column changes): inserts that merely reference the team are not blocked
UPDATE teams SET revision = revision + 1 WHERE name = %(team)s
RETURNING id;

-- team_revision --
-- A team's revision, to tell whether a state loaded with it is still current
SELECT revision FROM teams WHERE name = %(team)s;

-- insert_override --
-- Store an override (the caller holds the team's row lock and checked that the team has
-- the schedule, if one is named: its identity row is never deleted); its id
INSERT INTO overrides (team_id, schedule_id, user_id, starts_at, ends_at, reason)
VALUES (
    %(team_id)s,
    (SELECT id FROM schedules WHERE team_id = %(team_id)s AND name = %(schedule)s::text),
    %(user_id)s, %(start)s, %(end)s, %(reason)s
)
RETURNING id;

-- end_override --
-- End an override under way (the caller holds the team's row lock)
UPDATE overrides SET ends_at = %(end)s WHERE team_id = %(team_id)s AND id = %(id)s;

-- delete_override --
-- Delete one override of a team; it as it was, in the shape of oncall_core.to_json(Override)
-- (as in list_overrides)
DELETE FROM overrides o USING teams t
WHERE t.id = o.team_id AND t.name = %(team)s AND o.id = %(id)s
RETURNING json_build_object(
    'member', (SELECT username FROM users WHERE id = o.user_id),
    'start', to_char(o.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'end', to_char(o.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'schedule', (SELECT name FROM schedules WHERE id = o.schedule_id),
    'reason', o.reason,
    'id', o.id
) AS override;

-- list_overrides --
-- A team's overrides that overlap [%(start)s, %(end)s) (NULL: unbounded on that side), in
-- creation order, each as one JSON object in the shape of oncall_core.to_json(Override) (as
-- in load_teams).  The bounds are plain comparisons on indexed columns, so that a generic plan
-- can use overrides_team_ends_idx too
SELECT json_build_object(
    'member', u.username,
    'start', to_char(o.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'end', to_char(o.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'schedule', s.name,
    'reason', o.reason,
    'id', o.id
) AS override
FROM teams t
JOIN overrides o ON o.team_id = t.id
JOIN users u ON u.id = o.user_id
LEFT JOIN schedules s ON s.id = o.schedule_id
WHERE t.name = %(team)s
    AND o.ends_at > coalesce(%(start)s::timestamptz, '-infinity')
    AND o.starts_at < coalesce(%(end)s::timestamptz, 'infinity')
ORDER BY o.id;

-- teams_of_member --
-- The names of the teams, in code point order, any of whose schedule versions or overrides
-- name the user %(member)s.  From the user's side (users_username_key, then
-- schedule_version_members_user_idx and overrides_user_idx), and each team's name by its
-- primary key: a scalar subquery, so that no plan hash-joins against a scan of every team
SELECT (SELECT t.name FROM teams t WHERE t.id = found.team_id) COLLATE "C" AS team
FROM (
    SELECT s.team_id
    FROM users u
    JOIN schedule_version_members m ON m.user_id = u.id
    JOIN schedule_versions v ON v.id = m.version_id
    JOIN schedules s ON s.id = v.schedule_id
    WHERE u.username = %(member)s
    UNION
    SELECT o.team_id
    FROM users u JOIN overrides o ON o.user_id = u.id
    WHERE u.username = %(member)s
) AS found
ORDER BY team;

-- load_team --
-- One team as one JSON document (one round trip) in the shape of oncall_core.to_json(TeamState),
-- so the store reads it with from_json: days by English name, local times as "HH:MM:SS[.ffffff]",
-- instants in UTC with a Z and microseconds whatever the session's TimeZone, a rotation's
-- kind, every and start (null for a manual rotation), each version's effective (null: from
-- the beginning of time) and the deletions.  Versions and deletions are listed in the order
-- they were written (version id), as TeamState keeps them.  load_teams is this statement with
-- t.name = ANY(%(teams)s::text[]), derived in _queries.py (one home for the document; a
-- statement of its own keeps load_team's prepared statement on a generic plan).
SELECT json_build_object(
    'team', t.name,
    'schedules', coalesce((
        SELECT json_agg(json_build_object(
            'team', t.name,
            'name', s.name,
            'members', (
                SELECT json_agg(u.username ORDER BY m.position)
                FROM schedule_version_members m JOIN users u ON u.id = m.user_id
                WHERE m.version_id = v.id
            ),
            'days', (
                SELECT json_agg(
                    (ARRAY['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday',
                        'Sunday'])[d.weekday + 1]
                    ORDER BY d.weekday
                )
                FROM schedule_version_days d WHERE d.version_id = v.id
            ),
            'start', v.start_time,
            'end', v.end_time,
            'overnight', v.overnight,
            'timezone', v.timezone,
            'rotation', json_build_object(
                'kind', v.rotation_kind,
                'every', v.rotation_every,
                'start', to_char(v.rotation_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            ),
            'priority', v.priority,
            'effective', to_char(v.effective_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        ) ORDER BY v.id)
        FROM schedules s JOIN schedule_versions v ON v.schedule_id = s.id
        WHERE s.team_id = t.id AND NOT v.deleted
    ), '[]'),
    'deletions', coalesce((
        SELECT json_agg(json_build_object(
            'schedule', s.name,
            'effective', to_char(v.effective_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        ) ORDER BY v.id)
        FROM schedules s JOIN schedule_versions v ON v.schedule_id = s.id
        WHERE s.team_id = t.id AND v.deleted
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
) AS state, t.revision
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

-- insert_api_key --
-- Record a new API key (its hash, never the secret)
INSERT INTO api_keys (name, hash, scope, teams, created_at)
VALUES (%(name)s, %(hash)s, %(scope)s, %(teams)s::text[], %(created_at)s)
RETURNING name, hash, scope, teams, created_at, last_used_at, revoked_at;

-- list_api_keys --
-- Every API key, revoked ones too, by name
SELECT name, hash, scope, teams, created_at, last_used_at, revoked_at
FROM api_keys ORDER BY name;

-- revoke_api_key --
-- Revoke the key of that name, unless it is revoked already
UPDATE api_keys SET revoked_at = %(now)s
WHERE name = %(name)s AND revoked_at IS NULL
RETURNING name, hash, scope, teams, created_at, last_used_at, revoked_at;

-- touch_api_keys --
-- Record when keys were last used, many at once (a later time never goes back)
UPDATE api_keys k SET last_used_at = GREATEST(k.last_used_at, u.at)
FROM unnest(%(names)s::text[], %(times)s::timestamptz[]) AS u (name, at)
WHERE k.name = u.name;

-- insert_audit_entry --
-- Record one effect of a write, in the write's transaction (team NULL: no team's)
INSERT INTO audit_entries (team_id, at, actor, request_id, action, schedule, detail)
VALUES (
    (SELECT id FROM teams WHERE name = %(team)s::text),
    %(at)s, %(actor)s, %(request_id)s, %(action)s, %(schedule)s, %(detail)s
);

-- list_team_audit --
-- A team's audit entries, newest first, those with an id below %(before)s (NULL: from the
-- newest), at most %(limit)s (NULL: all); by audit_entries_team_idx, backwards
SELECT a.id, t.name AS team, a.at, a.actor, a.request_id, a.action, a.schedule, a.detail
FROM teams t
JOIN audit_entries a ON a.team_id = t.id
WHERE t.name = %(team)s AND a.id < coalesce(%(before)s::bigint, 9223372036854775807)
ORDER BY a.id DESC
LIMIT %(limit)s;

-- list_audit --
-- Every audit entry (key changes too), newest first, those with an id below %(before)s
-- (NULL: from the newest), at most %(limit)s (NULL: all)
SELECT a.id, t.name AS team, a.at, a.actor, a.request_id, a.action, a.schedule, a.detail
FROM audit_entries a
LEFT JOIN teams t ON t.id = a.team_id
WHERE a.id < coalesce(%(before)s::bigint, 9223372036854775807)
ORDER BY a.id DESC
LIMIT %(limit)s;
