-- A team's revision (issue 13): a number that every write of the team raises, in the
-- write's own transaction, so that a reader can tell with one indexed lookup whether
-- a team state it loaded before is still the stored one (PostgresStore.load_team).
--
-- * Every write of a team first raises it (revise_team, or upsert_team for a create),
--   which also locks the team's row: a team's writes run one at a time, and all of
--   them take the team's row before any schedule's, so no two can wait on each other.
-- * A reader that finds the revision it loaded a state with knows the state is
--   current: the data and the revision commit together.

ALTER TABLE teams ADD COLUMN revision bigint NOT NULL DEFAULT 0;
