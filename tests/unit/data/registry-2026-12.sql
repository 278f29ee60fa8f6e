-- A registry as hubsetup wrote it before versioned migrations (schema 0): a sync of three
-- accounts.csv rows and three LTI launches, one with a pushed score. Made by the code of 90023d8.
BEGIN TRANSACTION;
CREATE TABLE courses (
    course TEXT PRIMARY KEY,
    student_gid INTEGER NOT NULL UNIQUE,     -- group nbgrader-<course>: everyone in the course
    instructor_gid INTEGER NOT NULL UNIQUE   -- group formgrade-<course>: its instructors
);
INSERT INTO "courses" VALUES('cours_prof1',2003,2004);
INSERT INTO "courses" VALUES('course-v1-mitx-6.00-2026',2006,2007);
CREATE TABLE launches (
    login TEXT NOT NULL,
    course TEXT NOT NULL,
    assignment TEXT NOT NULL,          -- '' when the launch names no assignment
    consumer_key TEXT NOT NULL,
    resource_link_id TEXT NOT NULL,
    outcome_service_url TEXT NOT NULL DEFAULT '',
    result_sourcedid TEXT NOT NULL DEFAULT '',
    launched_at REAL NOT NULL,
    pushed_score REAL,                 -- the last score the LMS accepted (0.0-1.0)
    pushed_at REAL,
    PRIMARY KEY (login, course, assignment)
);
INSERT INTO "launches" VALUES('edx-alice','course-v1-mitx-6.00-2026','ps1','edx-key','block-ps1','https://courses.example.org/outcome','res-alice',1.79618329188791322711e+09,0.75,1.7961832919193394184e+09);
INSERT INTO "launches" VALUES('edx-bob','course-v1-mitx-6.00-2026','ps1','edx-key','block-ps1','https://courses.example.org/outcome','res-bob',1.7961832918992812634e+09,NULL,NULL);
INSERT INTO "launches" VALUES('edx-prof','course-v1-mitx-6.00-2026','ps1','edx-key','block-ps1','https://courses.example.org/outcome','',1.79618329190924954415e+09,NULL,NULL);
CREATE TABLE lti_contexts (
    consumer_key TEXT NOT NULL,
    context_id TEXT NOT NULL,          -- the LMS's course id (edX: course-v1:Org+Num+Run)
    course TEXT NOT NULL REFERENCES courses(course), -- an admin may map several contexts to one
    made_by TEXT NOT NULL DEFAULT 'launch', -- 'launch': the course is the consumer's; 'admin': mapped
    PRIMARY KEY (consumer_key, context_id)
);
INSERT INTO "lti_contexts" VALUES('edx-key','course-v1:MITx+6.00+2026','course-v1-mitx-6.00-2026','launch');
CREATE TABLE lti_identities (
    consumer_key TEXT NOT NULL,
    lti_user TEXT NOT NULL,            -- the launch's user value (edX username or anonymous id)
    login TEXT NOT NULL REFERENCES users(login),
    PRIMARY KEY (consumer_key, lti_user)
);
INSERT INTO "lti_identities" VALUES('edx-key','edx-alice','edx-alice');
INSERT INTO "lti_identities" VALUES('edx-key','edx-bob','edx-bob');
INSERT INTO "lti_identities" VALUES('edx-key','edx-prof','edx-prof');
CREATE TABLE memberships (
    login TEXT NOT NULL REFERENCES users(login),
    course TEXT NOT NULL REFERENCES courses(course),
    role TEXT NOT NULL,                -- 'instructor' or 'student'
    origin TEXT NOT NULL,              -- 'csv' or 'lti': a CSV sync only rewrites its own
    PRIMARY KEY (login, course)
);
INSERT INTO "memberships" VALUES('prof1','cours_prof1','instructor','csv');
INSERT INTO "memberships" VALUES('eleve2','cours_prof1','student','csv');
INSERT INTO "memberships" VALUES('eleve1','cours_prof1','student','csv');
INSERT INTO "memberships" VALUES('edx-alice','course-v1-mitx-6.00-2026','student','lti');
INSERT INTO "memberships" VALUES('edx-bob','course-v1-mitx-6.00-2026','student','lti');
INSERT INTO "memberships" VALUES('edx-prof','course-v1-mitx-6.00-2026','instructor','lti');
CREATE TABLE retired_ids (
    id INTEGER PRIMARY KEY             -- UIDs of removed users: files may still carry them
);
CREATE TABLE retired_logins (
    login TEXT PRIMARY KEY             -- removed users: JupyterHub may still know the name
);
CREATE TABLE users (
    login TEXT PRIMARY KEY,
    uid INTEGER NOT NULL UNIQUE,
    origin TEXT NOT NULL,              -- 'csv' or 'lti'
    active INTEGER NOT NULL DEFAULT 1, -- 0: locked (row removed from accounts.csv)
    password_hash TEXT NOT NULL,       -- what /etc/shadow gets ('!' for no password)
    password_digest TEXT NOT NULL DEFAULT '' -- keyed digest of the accounts.csv password field
);
INSERT INTO "users" VALUES('prof1',2000,'csv',1,'$6$WI23d7znv.J./Jt5$.YYxhfNjpzX8QWPzej/xh7T0ujmDUU88ntV3Um2OxtH3eIEwoV2zj7TL62N1YprLtu4mOUnhPiKTF6.jdx8ER0','8ded4753ddc18105a0681790db677c9a0d7ea99038063634c1361c32ff746282');
INSERT INTO "users" VALUES('eleve1',2001,'csv',1,'$6$Mpn8A76VvNzDfpEy$HlvWjwA440Lb7C..mUIw7mTNwaFNqpqzhIV65oubJi2VznrREWGvTnXUBo9.6.2EIFV28u//6wdCMNTBj099K/','e8d0e654297d064516e5a01c0814aee164dc8820d0d27dd7353d0a98122116b0');
INSERT INTO "users" VALUES('eleve2',2002,'csv',1,'$6$b7vMuJzh9xrKYf7h$Bkelf.CpFQIBF4DdL8V/CUS21Hy.YTW3lUBgyUMMvDL3PIQa9IzOmHohqgMuFjCJd9nV4M86.9g5huYHboEZR0','193332cd0cd88694f802d0c5e9a4d575a77168d76209b2633aacc582f24aa0fd');
INSERT INTO "users" VALUES('edx-alice',2005,'lti',1,'!','');
INSERT INTO "users" VALUES('edx-bob',2008,'lti',1,'!','');
INSERT INTO "users" VALUES('edx-prof',2009,'lti',1,'!','');
COMMIT;
