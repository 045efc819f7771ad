-- Drop what nothing reads:
-- * team_members, which every create wrote (one more round trip each) and no
--   query ever read: a team's members are those of its schedules;
-- * the users' contact columns (email, phone, slack_id), kept from the seed
--   service's schema but never written or read by this code.
--
-- Code from before this migration still writes team_members: upgrade every
-- replica before (or while) running it.

DROP TABLE team_members;

ALTER TABLE users
    DROP COLUMN email,
    DROP COLUMN phone,
    DROP COLUMN slack_id;
