"""Where each submission graded on arrival is, for the student who made it (queued, being
graded, graded with its score, feedback ready, score sent to the LMS) and for the course's
teachers (what waits, what failed and why): a page of the `grading` service at
/services/grading/, signed in through the hub (OAuth), in UI_LANGUAGE.

The page is served by the grading service rather than by the hub: students waiting near a
deadline reload it, and the hub's own process stays free for launches and logins.
"""

import asyncio
import datetime
import logging
import os
import threading

from tornado import template, web
from tornado.httpserver import HTTPServer

from .. import courses, registry, singleuser

log = logging.getLogger("hubsetup.grading")
TEACHER_ROWS = 200  # ungraded submissions listed per course; the counts cover them all
REFRESH_SECONDS = 5

WORDS = {
    "en": {
        "title": "Your submissions",
        "intro": "Where each assignment you submitted is, in the courses graded as soon as you submit. "
                 "Your teacher can still review any score.",
        "course": "Course", "assignment": "Assignment", "submitted": "Submitted", "where": "Where it is",
        "queued": "Waiting to be graded", "ahead": "Waiting to be graded ({n} ahead of yours)",
        "grading": "Being graded now",
        "graded": "Graded: {score} out of {max} points",
        "feedback": "Feedback ready: in JupyterLab, Nbgrader → Assignment List, then Fetch Feedback.",
        "sent": "Score sent to your course.",
        "failed": "Could not be graded automatically: your teacher will grade it.",
        "none": "Nothing yet: once you submit an assignment of a course graded on submit, it appears here.",
        "refresh": "This page updates itself while a submission waits.",
        "teaching": "Submissions to {course}",
        "counts": "{graded} graded, {queued} waiting, {grading} being graded, {failed} not graded automatically",
        "student": "Student", "why": "Why",
        "formgrader": "Scores and feedback of graded submissions are in the Formgrader, where you can change them.",
    },
    "fr_FR": {
        "title": "Vos rendus",
        "intro": "Où en est chaque devoir que vous avez rendu, dans les cours corrigés dès le rendu. "
                 "Votre enseignant peut toujours revoir une note.",
        "course": "Cours", "assignment": "Devoir", "submitted": "Rendu le", "where": "État",
        "queued": "En attente de correction",
        "ahead": "En attente de correction ({n} avant le vôtre)",
        "grading": "En cours de correction",
        "graded": "Corrigé : {score} points sur {max}",
        "feedback": "Retour disponible : dans JupyterLab, menu Nbgrader → Assignment List, puis Fetch Feedback.",
        "sent": "Note transmise à votre cours.",
        "failed": "Correction automatique impossible : votre enseignant corrigera ce devoir lui-même.",
        "none": "Rien pour l’instant : dès que vous rendez un devoir d’un cours corrigé au rendu, il apparaît ici.",
        "refresh": "Cette page se met à jour toute seule tant qu’un rendu attend.",
        "teaching": "Rendus du cours {course}",
        "counts": "{graded} corrigés, {queued} en attente, {grading} en cours, "
                  "{failed} impossibles à corriger automatiquement",
        "student": "Élève", "why": "Motif",
        "formgrader": "Les notes et les retours des rendus corrigés sont dans le Formgrader, où vous pouvez les modifier.",
    },
    "zh_CN": {
        "title": "我的提交",
        "intro": "在提交后即自动评分的课程中，你提交的每份作业目前的状态。老师仍可复核任何分数。",
        "course": "课程", "assignment": "作业", "submitted": "提交时间", "where": "状态",
        "queued": "等待评分", "ahead": "等待评分（前面还有 {n} 份）",
        "grading": "正在评分",
        "graded": "已评分：{score} / {max} 分",
        "feedback": "评语已发布：在 JupyterLab 中打开 Nbgrader → Assignment List，点击 Fetch Feedback。",
        "sent": "分数已发送到你的课程。",
        "failed": "无法自动评分：老师会亲自批改。",
        "none": "暂无记录：提交了自动评分课程的作业后，会显示在这里。",
        "refresh": "有作业在等待评分时，本页面会自动刷新。",
        "teaching": "{course} 的提交",
        "counts": "已评分 {graded} 份，等待中 {queued} 份，正在评分 {grading} 份，无法自动评分 {failed} 份",
        "student": "学生", "why": "原因",
        "formgrader": "已评分作业的分数和评语在 Formgrader 中，可在那里修改。",
    },
}
HTML_LANG = {"en": "en", "fr_FR": "fr", "zh_CN": "zh-CN"}

PAGE = template.Template("""<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{% if waiting %}<meta http-equiv="refresh" content="{{ refresh }}">{% end %}
<title>{{ say("title") }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
.state-graded { color: #176317; } .state-failed { color: #9b1c1c; } .note { color: #555; }
</style>
</head>
<body>
<h1>{{ say("title") }}</h1>
<p class="note">{{ say("intro") }}</p>
{% if rows %}
<table id="my-submissions">
<tr><th>{{ say("course") }}</th><th>{{ say("assignment") }}</th><th>{{ say("submitted") }}</th><th>{{ say("where") }}</th></tr>
{% for row in rows %}
<tr data-course="{{ row["course"] }}" data-assignment="{{ row["assignment"] }}" data-state="{{ row["state"] }}">
<td>{{ row["course"] }}</td><td>{{ row["assignment"] }}</td><td>{{ when(row["arrived_at"]) }}</td>
<td class="state-{{ row["state"] }}">{% for line in row["lines"] %}<div>{{ line }}</div>{% end %}</td>
</tr>
{% end %}
</table>
{% else %}
<p id="no-submissions">{{ say("none") }}</p>
{% end %}
{% if waiting %}<p class="note">{{ say("refresh") }}</p>{% end %}
{% for course in taught %}
<h2>{{ say("teaching", course=course["course"]) }}</h2>
<ul>
{% for assignment, counts in course["counts"] %}
<li data-assignment="{{ assignment }}"><strong>{{ assignment }}</strong>: {{ say("counts", **counts) }}</li>
{% end %}
</ul>
{% if course["ungraded"] %}
<table class="ungraded" data-course="{{ course["course"] }}">
<tr><th>{{ say("student") }}</th><th>{{ say("assignment") }}</th><th>{{ say("submitted") }}</th><th>{{ say("where") }}</th><th>{{ say("why") }}</th></tr>
{% for row in course["ungraded"] %}
<tr data-login="{{ row["login"] }}" data-state="{{ row["state"] }}">
<td>{{ row["shown"] }}</td><td>{{ row["assignment"] }}</td><td>{{ when(row["arrived_at"]) }}</td>
<td class="state-{{ row["state"] }}">{{ say(row["state"]) }}</td><td>{{ row["detail"] }}</td>
</tr>
{% end %}
</table>
{% end %}
<p class="note">{{ say("formgrader") }}</p>
{% end %}
</body>
</html>
""")


def words_for(language):
    return WORDS.get(language, WORDS["en"])


def when(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def score_text(value):
    return f"{value:g}" if value is not None else "?"


def student_lines(row, queue, words):
    """What the student reads about one submission, line by line."""
    state = row["state"]
    if state == "queued":
        ahead = sum(1 for arrived in queue if arrived < row["arrived_at"])
        return [words["ahead"].format(n=ahead) if ahead else words["queued"]]
    if state == "graded":
        lines = [words["graded"].format(score=score_text(row["score"]), max=score_text(row["max_score"]))]
        if row["feedback"]:
            lines.append(words["feedback"])
        if row["pushed_at"] and row["pushed_at"] >= row["updated_at"]:
            lines.append(words["sent"])
        return lines
    return [words.get(state, state)]


def page_of(db, login, language):
    """The page's content for `login`: their submissions, and the courses they teach."""
    words = words_for(language)
    queue = registry.waiting_arrivals(db)
    rows = registry.submissions_of(db, login)
    for row in rows:
        row["lines"] = student_lines(row, queue, words)
    taught = []
    names = None
    for course, role in sorted(registry.roles_of(db, login).items()):
        if role != courses.INSTRUCTOR:
            continue
        counts = registry.course_submission_counts(db, course)
        if not counts:
            continue
        if names is None:
            names = registry.names_of(db)
        ungraded = registry.ungraded_submissions(db, course, TEACHER_ROWS)
        for row in ungraded:
            name = names.get(row["login"])
            row["shown"] = f"{name.shown} ({row['login']})" if name else row["login"]
        taught.append({
            "course": course,
            "counts": [(assignment, {state: states.get(state, 0) for state in ("graded", "queued", "grading", "failed")})
                       for assignment, states in sorted(counts.items())],
            "ungraded": ungraded,
        })
    waiting = any(row["state"] in ("queued", "grading") for row in rows)
    return {"rows": rows, "taught": taught, "waiting": waiting, "words": words}


def render(content, language):
    words = content["words"]
    return PAGE.generate(
        lang=HTML_LANG.get(language, "en"), refresh=REFRESH_SECONDS, when=when,
        say=lambda key, **values: words[key].format(**values) if values else words[key],
        **{key: value for key, value in content.items() if key != "words"},
    )


def application(settings):
    from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated

    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    # Secure (and SameSite=None inside an LMS frame) as every other cookie of the hub.
    hub_auth_of_page = HubOAuth(cookie_options=singleuser.cookie_options_for(settings.lms_origins.split(),
                                                                     settings.https_domain))

    class StatusPage(HubOAuthenticated, web.RequestHandler):
        hub_auth = hub_auth_of_page

        @web.authenticated
        def get(self):
            login = self.get_current_user()["name"]
            with registry.connect(settings.registry_path, write=False) as db:
                content = page_of(db, login, settings.ui_language)
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                                                       f"frame-ancestors {singleuser.frame_ancestors(os.environ)}")
            self.finish(render(content, settings.ui_language))

    class OAuthCallback(HubOAuthCallbackHandler):
        hub_auth = hub_auth_of_page

    return web.Application([(prefix, StatusPage), (prefix + "oauth_callback", OAuthCallback)],
                           cookie_secret=os.urandom(32))


def serve_in_background(settings):
    """The page, on JUPYTERHUB_SERVICE_URL, in a thread of the grading service."""
    from urllib.parse import urlsplit

    address = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])

    async def serve():
        HTTPServer(application(settings), xheaders=True).listen(address.port, address.hostname)
        log.info("students' status page on %s", os.environ["JUPYTERHUB_SERVICE_URL"])
        await asyncio.Event().wait()

    threading.Thread(target=asyncio.run, args=(serve(),), daemon=True, name="status-page").start()
