-- Views by member and by time (issue 11): indexes, no new tables.
--
-- * teams_of_member finds a member's teams from the member's side: from the user
--   row (users_username_key) to the schedule versions and overrides that name
--   it.  Without these two indexes each lookup would read every member row of
--   every version and every override (a scan of all teams).
-- * list_overrides with a range reads a team's overrides that end after the
--   range's start: most of a team's overrides are in the past, and a view of
--   the coming weeks should not read them all.

CREATE INDEX schedule_version_members_user_idx ON schedule_version_members (user_id);
CREATE INDEX overrides_user_idx ON overrides (user_id);
CREATE INDEX overrides_team_ends_idx ON overrides (team_id, ends_at);
