"""The `hubsetup` command: what an admin runs with `docker compose exec hub hubsetup ...`."""

import argparse
import logging
import os
import sys
import time
from urllib.parse import urlencode

from . import as_instructor, courses, grades, lesson_server, materials, modes, registry, safe_paths, status
from .lti import consumers as lti_consumers
from . import settings as settings_module
from .accounts import AccountsError
from .keys import ensure_secret
from .provision import remove_users
from .sync import check_accounts, sync_accounts, teachers_work

HUB_CONFIG = "/srv/jupyterhub/jupyterhub_config.py"


def fail(message, status=2):
    print(f"error: {message}", file=sys.stderr)
    return status


def unknown_consumer(key, consumers):
    return fail(f"no LTI consumer {key!r}; known: {', '.join(sorted(consumers)) or 'none'}")


def accounts_sync(args, settings):
    try:
        report = sync_accounts(settings, dry_run=args.dry_run)
    except AccountsError as error:
        return fail(error)
    print(report.summary())
    if not args.dry_run:
        for _, line in teachers_work(settings):
            print(line)
    return 0


def accounts_check(args, settings):
    path = args.path or settings.accounts_file
    try:
        rows, skipped = check_accounts(settings, path)
    except AccountsError as error:
        return fail(error)
    teachers = sum(account.teacher for account in rows)
    verdict = f"{len(skipped)} row(s) a sync would skip:" if skipped else "no problems"
    print(f"{path}: {len(rows)} accounts ({teachers} teachers, {len(rows) - teachers} students), {verdict}")
    for row in skipped:
        print(f"  {row}")
    return 0


def grading_serve(args, settings):
    from .grading import service

    service.run(settings)
    return 0


def accounts_watch(args, settings):
    from .accounts_watch import watch

    watch(settings, args.interval)
    return 0


def start_factories(settings):
    """The server and kernel factories, importing while the hub starts (hubsetup.factory)."""
    from .spawner import HubSpawner

    HubSpawner(process_limit=settings.user_process_limit).factory_keeper().start_all(print)


def start(args, settings):
    """Sync accounts, then become JupyterHub: a bad accounts.csv stops the start, loudly."""
    status = accounts_sync(argparse.Namespace(dry_run=False), settings)
    if status:
        return fail("not starting JupyterHub until accounts.csv is fixed", status)
    # Auth state (LTI launch data) is encrypted with a key kept in the state volume.
    os.environ.setdefault("JUPYTERHUB_CRYPT_KEY", ensure_secret(settings.state_dir, "jupyterhub-crypt-key"))
    if settings.forks_servers:
        start_factories(settings)
    sys.stdout.flush()  # exec replaces the process: unflushed output would be lost
    os.chdir(settings.state_dir)
    os.execvp("jupyterhub", ["jupyterhub", "-f", args.config, *args.jupyterhub_args])


def show_settings(args, settings):
    print(settings_module.markdown_table())
    return 0


def lti_passport(args, settings):
    """Print `id:key:secret` for edX Studio, generating a consumer on first use."""
    consumers = lti_consumers.all_consumers(settings.state_dir, settings.lti_consumers)
    try:
        if args.team:
            key = lti_consumers.team_key(args.team)
            secret = consumers.get(key) or lti_consumers.new_consumer(settings.state_dir, key)[1]
        elif args.new:
            key, secret = lti_consumers.new_consumer(settings.state_dir, args.key)
        elif args.key:
            if args.key not in consumers:
                return unknown_consumer(args.key, consumers)
            key, secret = args.key, consumers[args.key]
        elif consumers:
            key = settings.lti_key or sorted(consumers)[0]
            secret = consumers[key]
        else:
            key, secret = lti_consumers.new_consumer(settings.state_dir)
        print(lti_consumers.passport(args.id, key, secret))
    except ValueError as error:
        return fail(error)
    return 0


def tool_urls(settings):
    """What an LMS admin gives the platform for this hub (GET /hub/lti13/config says the same)."""
    base = f"https://{settings.https_domain}" if settings.https_domain else "http://<this hub's address>"
    return (f"  OIDC login initiation URL:  {base}/hub/lti13/login\n"
            f"  Launch / redirect URL:      {base}/hub/lti13/launch\n"
            f"  Public keyset (JWKS) URL:   {base}/hub/lti13/jwks")


def lti13_add(args, settings):
    from .lti import lti13_keys, lti13_platforms

    platform = lti13_platforms.Platform(
        issuer=args.issuer, client_id=args.client_id, deployment_ids=args.deployment_id,
        keyset_url=args.keyset_url, login_url=args.login_url, token_url=args.token_url)
    try:
        lti13_platforms.add_platform(settings.state_dir, platform, replace=args.replace)
    except lti13_platforms.RegistrationError as error:
        raise SystemExit(f"hubsetup lti13 add: {error}")
    lti13_keys.tool_key(settings.state_dir)  # made now, not during the first launch
    print(f"registered {platform.issuer} (client id {platform.client_id}, deployment "
          f"{', '.join(platform.deployment_ids)}). In the LMS's registration of the tool:\n{tool_urls(settings)}")


def lti13_list(args, settings):
    from .lti import lti13_platforms

    platforms = lti13_platforms.load_platforms(settings.state_dir)
    for platform in platforms.values():
        print(f"{platform.issuer}  client id {platform.client_id}  deployments {', '.join(platform.deployment_ids)}\n"
              f"  keyset {platform.keyset_url}\n  login {platform.login_url}\n  token {platform.token_url}")
    if not platforms:
        print("no LTI 1.3 platform registered (hubsetup lti13 add)")
    print(f"This hub, for the LMS:\n{tool_urls(settings)}")


def lti13_remove(args, settings):
    from .lti import lti13_platforms

    try:
        lti13_platforms.remove_platform(settings.state_dir, args.issuer, args.client_id)
    except lti13_platforms.RegistrationError as error:
        raise SystemExit(f"hubsetup lti13 remove: {error}")
    print(f"removed {args.issuer} (client id {args.client_id}): its launches are refused from now on")


def lti13_roster(args, settings):
    from .lti import lti13_platforms, lti13_roster

    with registry.connect(settings.registry_path, write=False) as db:
        if args.course not in registry.courses(db):
            raise SystemExit(f"hubsetup lti13 roster: no course {args.course!r} (hubsetup status lists them)")
        rosters = registry.rosters(db, args.course)
        logins = {key: registry.lti_logins(db, key) for key, _ in rosters}
    if not rosters:
        raise SystemExit(f"hubsetup lti13 roster: no LTI 1.3 launch into {args.course!r} offered a roster yet "
                         "(the platform must allow Names and Role Provisioning for the tool)")
    platforms = {p.key: p for p in lti13_platforms.load_platforms(settings.state_dir).values()}
    failed = False
    for key, url in rosters:
        if key not in platforms:
            print(f"{key}: no longer registered")
            failed = True
            continue
        try:
            listed = lti13_roster.members(settings.state_dir, platforms[key], url)
        except lti13_roster.RosterError as error:
            print(f"{platforms[key].issuer}: {error}")
            failed = True
            continue
        print(f"{platforms[key].issuer} (client id {platforms[key].client_id}):")
        print("\n".join(lti13_roster.table(listed, logins[key])))
    return 1 if failed else 0


def lti13_rotate_key(args, settings):
    from .lti import lti13_keys

    kid = lti13_keys.rotate(settings.state_dir)
    print(f"the hub now signs with key {kid}; the previous key stays in /hub/lti13/jwks until the next rotation "
          "or `hubsetup lti13 forget-previous-key`")


def lti13_forget_previous_key(args, settings):
    from .lti import lti13_keys

    print("the previous key is out of /hub/lti13/jwks" if lti13_keys.forget_previous(settings.state_dir)
          else "there is no previous key")


def lti_link(args, settings):
    """Let launches of one LMS user, from one consumer, log in as an existing account."""
    consumers = lti_consumers.all_consumers(settings.state_dir, settings.lti_consumers)
    if args.consumer not in consumers:
        return unknown_consumer(args.consumer, consumers)
    if args.login in settings.admins:
        return fail(f"{args.login!r} is a hub admin (ADMIN_USERS): a link would make anyone who can sign "
                    f"launches for {args.consumer!r} an admin of the whole hub")
    with registry.connect(settings.registry_path) as db:
        if args.login not in registry.users(db):
            return fail(f"{args.login!r} is not a hub account (run accounts sync first?)")
        registry.link_lti_identity(db, args.consumer, args.lti_user, args.login)
    print(f"launches from {args.consumer!r} for {args.lti_user!r} now log in as {args.login!r}\n"
          f"WARNING: whoever holds the secret of {args.consumer!r}, and on edX anyone who can edit an LTI "
          f"component of a course using its passport (Custom Parameters can set lis_person_sourcedid), can "
          f"launch as {args.lti_user!r} and so log in as {args.login!r}. Link only in a consumer that one "
          "course team you trust uses (docs/security.md).")
    return 0


def lti_map_course(args, settings):
    """Send one consumer's LMS course to an existing hub course (an accounts.csv one, say)."""
    with registry.connect(settings.registry_path) as db:
        if args.course not in registry.courses(db):
            return fail(f"{args.course!r} is not a hub course; known: {', '.join(sorted(registry.courses(db)))}")
        registry.map_lti_context(db, args.consumer, args.context_id, args.course, made_by="admin")
    print(f"launches from {args.consumer!r} in {args.context_id!r} now go to course {args.course!r}: their "
          "instructors become its instructors, with its gradebook and solutions")
    return 0


def as_a_teacher_of(settings, course, module, request):
    """Run `module` as the course's first teacher (hubsetup.as_instructor), in its instructor
    group and its course group: only the course's members may enter <exchange>/<course>/materials.
    ValueError says why it could not be run, or how it failed."""
    with registry.connect(settings.registry_path, write=False) as db:
        known = registry.courses(db)
        if course not in known:
            raise ValueError(f"no course {course!r}; `hubsetup status` lists them")
        instructors = registry.course_instructors(db, course)
    if not instructors:
        raise ValueError(f"course {course!r} has no teacher yet: materials are theirs")
    return as_instructor.run(settings, instructors[0], known[course]["instructor_gid"], module, request,
                             extra_groups=[known[course]["student_gid"]])


def materials_request(settings, course, **more):
    return {"source": os.path.join(courses.course_dir(settings, course), materials.MATERIALS),
            "published": materials.published_root(settings.exchange_root, course), **more}


def materials_publish(args, settings):
    """Publish a course's materials as one of its teachers."""
    try:
        print(as_a_teacher_of(settings, args.course, "hubsetup.materials", materials_request(settings, args.course)))
    except ValueError as error:
        return fail(error)
    return 0


def lti_params(args, settings):
    """The Custom Parameters line of an LTI component, checked against the course if named."""
    warnings = []
    if args.lesson:
        line = f'["lesson={args.lesson}"]'
        if args.course:
            try:
                warnings += lesson_warnings(settings, args.course, args.lesson)
            except ValueError as error:
                warnings.append(f"could not look into course {args.course!r}: {error}")
    elif args.assignment:
        line = f'["assignment={args.assignment}"]'
        if args.course and not lesson_server.is_released(args.course, args.assignment, settings.exchange_root):
            warnings.append(f"assignment {args.assignment!r} is not released in course {args.course!r} yet: "
                            "students who open the component are told so until it is")
    else:
        folder = args.git_folder or os.path.basename(args.git_repo.rstrip("/")).removesuffix(".git")
        # nbgitpuller's own folder would keep ".git" in the name: named here, for urlpath's sake.
        query = urlencode({"repo": args.git_repo, "branch": args.git_branch, "targetpath": folder,
                           "urlpath": f"lab/tree/{folder}/{args.git_path}".rstrip("/")})
        line = f'["next=/hub/user-redirect/git-pull?{query}"]'
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(line)
    return 0


def lesson_warnings(settings, course, lesson):
    """Whether the course has published `lesson`, asked as one of its teachers (root never looks
    into the folders teachers write)."""
    state = as_a_teacher_of(settings, course, "hubsetup.materials", materials_request(settings, course, lesson=lesson))
    if state == "unpublished":
        return [f"{lesson} is in course {course!r}'s materials but not published yet: publish them "
                f"(JupyterLab's File menu, Course materials; or hubsetup materials publish --course {course})"]
    if state == "missing":
        return [f"course {course!r} has no {lesson} in its materials "
                f"({materials_request(settings, course)['source']})"]
    return []


def grades_export(args, settings):
    try:
        rows = grades.gradebook_rows(args.course, courses.course_dir(settings, args.course), args.assignment)
    except FileNotFoundError as error:
        return fail(error)
    except KeyError as error:
        return fail(error.args[0])
    with registry.connect(settings.registry_path, write=False) as db:
        names = registry.names_of(db)
    if not args.output:
        grades.export_csv(rows, sys.stdout, names)
        return 0
    # Root writes where the admin said, which may be below a folder a user can write: no link followed.
    path = os.path.abspath(args.output)
    try:
        with safe_paths.open_path(os.path.dirname(path)) as folder:
            fd = folder.replace_file(os.path.basename(path))
    except (safe_paths.Tampered, OSError) as error:
        return fail(f"grades export --output: {error}")
    with open(fd, "w", newline="", encoding="utf-8") as output:
        grades.export_csv(rows, output, names)
    return 0


def grades_push(args, settings):
    try:
        results = grades.push_grades(settings, args.course, args.assignment, dry_run=args.dry_run)
    except FileNotFoundError as error:
        return fail(error)
    except KeyError as error:
        return fail(error.args[0])
    print(grades.push_table(results))
    return 1 if any(r.status == grades.FAILED for r in results) else 0


def grades_watch(args, settings):
    """Push changed scores of every LTI-graded assignment, every `interval` seconds."""
    log = logging.getLogger("hubsetup.grades")
    while True:
        for course, assignment in grades.assignments_to_watch(settings):
            grades.push_changed(settings, course, assignment, log)
        if args.once:
            return 0
        time.sleep(args.interval)


def users_remove(args, settings):
    try:
        remove_users(settings, args.logins, keep_home=args.keep_home,
                     running=status.running_servers(settings.state_dir))
    except ValueError as error:
        return fail(error)
    if not args.keep_home:
        modes.of(settings).call("remove_storage", settings, args.logins)
    kept = " (homes kept)" if args.keep_home else ""
    print(f"removed {len(args.logins)} user(s){kept}: {', '.join(args.logins)}")
    return 0


def show_status(args, settings):
    print(status.report(settings))
    return 0


def parser():
    top = argparse.ArgumentParser(prog="hubsetup", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    accounts = commands.add_parser("accounts", help="manage the accounts from accounts.csv")
    accounts_commands = accounts.add_subparsers(dest="action", required=True)
    sync = accounts_commands.add_parser("sync", help="create, update and lock users to match accounts.csv")
    sync.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    sync.add_argument("--file", help="accounts file (default: $ACCOUNTS_FILE)")
    sync.set_defaults(func=accounts_sync)
    check = accounts_commands.add_parser("check", help="validate an accounts file, change nothing")
    check.add_argument("path", nargs="?", help="accounts file (default: $ACCOUNTS_FILE)")
    check.set_defaults(func=accounts_check)
    watch_accounts = accounts_commands.add_parser("watch", help="apply accounts.csv whenever it changes (ACCOUNTS_WATCH)")
    watch_accounts.add_argument("--interval", type=float, default=2, help="seconds between looks")
    watch_accounts.set_defaults(func=accounts_watch)

    lti_parser = commands.add_parser("lti", help="LTI 1.1 consumers (edX, Moodle, Canvas, ...)")
    lti_commands = lti_parser.add_subparsers(dest="action", required=True)
    passport = lti_commands.add_parser("passport", help="print the LTI passport for edX Studio")
    passport.add_argument("--id", default="jupyter01", help="the LTI ID used in edX components")
    passport.add_argument("--key", help="the consumer key to show (or to create, with --new)")
    passport.add_argument("--new", action="store_true", help="create another consumer")
    passport.add_argument("--team", help="the passport of this course team (made on first use): each team's "
                          "users and courses stay apart from every other team's")
    passport.set_defaults(func=lti_passport)
    link = lti_commands.add_parser("link", help="let an LMS user log in as an existing account")
    link.add_argument("--consumer", required=True, help="consumer key the LMS signs with")
    link.add_argument("--lti-user", required=True, help="the launch's user value (edX username or user_id)")
    link.add_argument("login", help="the hub account to log in as")
    link.set_defaults(func=lti_link)
    map_course = lti_commands.add_parser("map-course", help="send an LMS course's launches to an existing hub course")
    map_course.add_argument("--consumer", required=True, help="consumer key the LMS signs with")
    map_course.add_argument("--context-id", required=True, help="the LMS's course id (edX: course-v1:Org+Num+Run)")
    map_course.add_argument("course", help="the hub course (hubsetup status lists them)")
    map_course.set_defaults(func=lti_map_course)

    params = lti_commands.add_parser("params", help="the Custom Parameters line of an edX LTI component")
    target = params.add_mutually_exclusive_group(required=True)
    target.add_argument("--lesson", help="a notebook or file of the course's materials, e.g. lesson1.ipynb")
    target.add_argument("--assignment", help="an nbgrader assignment, e.g. ps1")
    target.add_argument("--git-repo", help="a git repository of lessons, opened through nbgitpuller")
    params.add_argument("--course", help="the hub course, to check that the lesson or assignment is there")
    params.add_argument("--git-path", default="", help="with --git-repo: the notebook to open, in the repository")
    params.add_argument("--git-branch", default="main", help="with --git-repo: the branch (default: main)")
    params.add_argument("--git-folder", help="with --git-repo: the folder in students' homes (default: the repository's name)")
    params.set_defaults(func=lti_params)

    lti13_parser = commands.add_parser("lti13", help="LTI 1.3 platforms (Open edX, Canvas, Moodle)")
    lti13_commands = lti13_parser.add_subparsers(dest="action", required=True)
    add = lti13_commands.add_parser("add", help="accept launches from a platform (its values from the LMS's tool page)")
    add.add_argument("--issuer", required=True, help="the platform's issuer, e.g. https://courses.example.org")
    add.add_argument("--client-id", required=True, help="the client id the platform gave this hub")
    add.add_argument("--deployment-id", required=True, action="append",
                     help="a deployment id of the tool in the platform (repeat for several)")
    add.add_argument("--keyset-url", required=True, help="the platform's public keyset (JWKS) URL")
    add.add_argument("--login-url", required=True, help="the platform's authentication (OIDC auth) URL")
    add.add_argument("--token-url", required=True, help="the platform's access token URL")
    add.add_argument("--replace", action="store_true", help="change an existing registration")
    add.set_defaults(func=lti13_add)
    listing = lti13_commands.add_parser("list", help="the registered platforms, and this hub's URLs for them")
    listing.set_defaults(func=lti13_list)
    remove = lti13_commands.add_parser("remove", help="refuse a platform's launches from now on")
    remove.add_argument("--issuer", required=True)
    remove.add_argument("--client-id", required=True)
    remove.set_defaults(func=lti13_remove)

    roster = lti13_commands.add_parser("roster", help="a course's members as the LMS lists them, and who has "
                                                      "never launched")
    roster.add_argument("--course", required=True, help="the hub course (hubsetup status lists them)")
    roster.set_defaults(func=lti13_roster)
    rotate = lti13_commands.add_parser("rotate-key", help="sign with a new key pair (the previous one stays "
                                                          "published until the next rotation)")
    rotate.set_defaults(func=lti13_rotate_key)
    forget = lti13_commands.add_parser("forget-previous-key", help="take the previous key out of the published keyset")
    forget.set_defaults(func=lti13_forget_previous_key)

    materials_parser = commands.add_parser("materials", help="course materials: lessons, data files, images")
    materials_commands = materials_parser.add_subparsers(dest="action", required=True)
    publish = materials_commands.add_parser("publish", help="publish a course's materials/ folder to its students")
    publish.add_argument("--course", required=True)
    publish.set_defaults(func=materials_publish)

    grades_parser = commands.add_parser("grades", help="grades from nbgrader's gradebooks")
    grades_commands = grades_parser.add_subparsers(dest="action", required=True)
    export = grades_commands.add_parser("export", help="write a course's grades as CSV")
    export.add_argument("--course", required=True)
    export.add_argument("--assignment", help="only this assignment")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.set_defaults(func=grades_export)
    push = grades_commands.add_parser("push", help="send an assignment's scores to the LMS gradebook (LTI 1.1)")
    push.add_argument("--course", required=True)
    push.add_argument("--assignment", required=True)
    push.add_argument("--dry-run", action="store_true", help="show what would be sent, send nothing")
    push.set_defaults(func=grades_push)
    watch = grades_commands.add_parser("watch", help="push changed scores periodically (GRADES_AUTO_PUSH)")
    watch.add_argument("--interval", type=int, default=60, help="seconds between rounds")
    watch.add_argument("--once", action="store_true", help="one round, then exit")
    watch.set_defaults(func=grades_watch)

    grading_parser = commands.add_parser("grading", help="the grading service (sandboxed autograding)")
    grading_commands = grading_parser.add_subparsers(dest="action", required=True)
    serve = grading_commands.add_parser("serve", help="run the grading service (a JupyterHub service)")
    serve.set_defaults(func=grading_serve)

    run = commands.add_parser("start", help="sync accounts, then run JupyterHub (the container's command)")
    run.add_argument("--config", default=HUB_CONFIG)
    run.add_argument("jupyterhub_args", nargs=argparse.REMAINDER)
    run.set_defaults(func=start)

    users = commands.add_parser("users", help="hub users made by LTI launches")
    users_commands = users.add_subparsers(dest="action", required=True)
    remove = users_commands.add_parser("remove", help="remove LTI users (their home too, unless --keep-home)")
    remove.add_argument("logins", nargs="+")
    remove.add_argument("--keep-home", action="store_true", help="keep their files in /home")
    remove.set_defaults(func=users_remove)

    status_parser = commands.add_parser("status", help="users, running servers, courses, disk use")
    status_parser.set_defaults(func=show_status)

    table = commands.add_parser("settings", help="print the environment variables hubsetup reads")
    table.set_defaults(func=show_settings)
    return top


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="[hubsetup %(levelname)s] %(message)s")
    args = parser().parse_args(argv)
    overrides = {"accounts_file": args.file} if getattr(args, "file", None) else {}
    settings = settings_module.Settings.from_env(**overrides)
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
