# Two images from one file, sharing every layer a user's server needs:
#   hub (the default target): JupyterHub + configurable-http-proxy + LTI + nbgrader + JupyterLab,
#     run as root (it creates Linux users and, by default, starts their servers as processes);
#   user: one user's server in a container of its own (SPAWNER=docker or swarm).
# Build behind a registry-less network with BASE_IMAGE=$(scripts/build-local-base); everyone
# else keeps the official default.
ARG BASE_IMAGE=debian:trixie-slim

# npm is large and only needed to install the proxy: keep it in this stage.
FROM ${BASE_IMAGE} AS proxy
ARG CHP_VERSION=5.3.0
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm ca-certificates \
 && npm install --global --prefix /opt/proxy --omit=dev "configurable-http-proxy@${CHP_VERSION}"

# What a user's server runs on. Two environments: /opt/venv for the server (JupyterLab,
# nbgrader, the hub's code) and /opt/course for what notebooks run in (the course's libraries and
# the kernel). A server's start scans only its own environment's packages, so the course's
# libraries cost only the kernels that import them.
# Each apt-get layer drops apt's lists and binary caches (bases without Debian's docker-clean
# apt setting would keep ~45 MB of them per layer).
FROM ${BASE_IMAGE} AS notebook
# PDF export (File → Save and Export Notebook As → PDF) prints with Debian's headless Chromium,
# about 560 MB with what it needs; PDF_EXPORT=no in .env leaves it out (and PDF off the menu).
ARG PDF_EXPORT=yes
ENV LANG=C.UTF-8 \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_NO_CACHE_DIR=1
# fonts-wqy-microhei (5 MB): the Chinese glyphs matplotlib draws titles and labels with.
# locales: zh_CN.UTF-8 and fr_FR.UTF-8, what UI_LANGUAGE runs users' servers in.
RUN case "$PDF_EXPORT" in yes) pdf=chromium-headless-shell ;; no) pdf= ;; \
      *) echo "PDF_EXPORT must be yes or no, not '$PDF_EXPORT'" >&2; exit 1 ;; esac \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates tini git less nano \
      fonts-dejavu-core fonts-wqy-microhei locales $pdf \
 && sed -i -E 's/^# *((zh_CN|fr_FR)\.UTF-8 UTF-8)/\1/' /etc/locale.gen && locale-gen \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY requirements.txt course-requirements.txt /tmp/
# rfc3987-syntax (an optional format checker of jsonschema, pulled in by jupyter-events)
# builds its parsers at import: 1.6 CPU-s of every user server's start. jsonschema skips the
# "iri" format without it, and no Jupyter schema uses that format.
# jupyter-server-mathjax is there for its MathJax files (PDF export), not its server extension.
RUN python3 -m venv /opt/venv && pip install -r /tmp/requirements.txt \
 && pip uninstall -y rfc3987-syntax lark \
 && rm /opt/venv/etc/jupyter/jupyter_server_config.d/jupyter_server_mathjax.json
# The course environment; its kernel is every server's `python3`. Its own `jupyter` commands go:
# in a terminal (course environment first on the PATH) `jupyter` is the server's.
RUN python3 -m venv /opt/course && /opt/course/bin/pip install -r /tmp/course-requirements.txt \
 && rm /opt/course/bin/jupyter* \
 && /opt/course/bin/python -m ipykernel install --prefix /opt/venv --name python3 --display-name "Python 3 (ipykernel)"
# A user's own packages: `pip install` (or %pip in a notebook) goes to ~/.local, which kernels
# and terminals then import. A venv leaves the user's site out unless it includes the system's,
# which holds nothing here (Debian's python3 packages, none installed).
RUN sed -i 's/^include-system-site-packages = false$/include-system-site-packages = true/' /opt/course/pyvenv.cfg \
 && /opt/course/bin/python -c "import site, sys; assert site.ENABLE_USER_SITE, sys.path"
# Matplotlib falls back to the Chinese font for characters DejaVu Sans lacks. A list of named
# families, not "sans-serif": a generic family stands for its first font only, with no fallback.
RUN sed -i 's/^#font.family:.*/font.family: DejaVu Sans, WenQuanYi Micro Hei/' \
      "$(/opt/course/bin/python -c 'import matplotlib; print(matplotlib.matplotlib_fname())')"
# The school's own packages (extra-packages.txt; extra-requirements.txt into the course
# environment): pip keeps every version course-requirements.txt and requirements.txt pin, and a
# package that cannot be installed stops the build with its name. JupyterLab parts of course
# packages (widgets, plot renderers) are linked into the server's environment, where JupyterLab
# finds them.
COPY user-image/install-extras user-image/link-lab-extensions /usr/local/bin/
COPY extra-packages.txt extra-requirements.txt /tmp/extras/
RUN install-extras debian /tmp/extras/extra-packages.txt \
 && /opt/course/bin/python /usr/local/bin/install-extras python /tmp/extras/extra-requirements.txt /tmp/course-requirements.txt /tmp/requirements.txt \
 && link-lab-extensions /opt/course /opt/venv
COPY pyproject.toml /tmp/hubsetup/
COPY hubsetup /tmp/hubsetup/hubsetup
# nbconvert's own "pdf" (LaTeX) gives way to hubsetup's (Chromium): two exporters of one name
# would leave the choice to the order nbconvert lists its entry points in.
RUN pip install --no-deps /tmp/hubsetup && rm -rf /tmp/hubsetup /tmp/*requirements.txt /tmp/extras \
 && sed -i '/^pdf = nbconvert/d' /opt/venv/lib/python3*/site-packages/nbconvert-*.dist-info/entry_points.txt \
 && python3 -c "from importlib.metadata import entry_points as e; \
      assert [p.value for p in e(group='nbconvert.exporters', name='pdf')] == ['hubsetup.pdf_export:BrowserPDFExporter']"
COPY jupyter/ /etc/jupyter/
COPY nbgrader_config.py /etc/jupyter/
# Students are not asked about Jupyter news, and no server calls out for updates.
COPY lab-settings/overrides.json /opt/venv/share/jupyter/lab/settings/overrides.json
# File → Submissions… for everyone and Course materials… for teachers, labelled in each
# UI_LANGUAGE (hubsetup.lab_menus; the spawner picks the folder).
RUN python3 -m hubsetup.lab_menus /etc/jupyter/lab-menus

# A user's server in its own container, started by the hub as that user's UID. Names come from
# the hub's user list, mounted read-only at /var/lib/extrausers. No setuid program is left: no
# way back to root from inside.
FROM notebook AS user
ARG HUB_VERSION=dev
LABEL org.opencontainers.image.title="teaching-hub-user" org.opencontainers.image.version="${HUB_VERSION}"
RUN apt-get update \
 && apt-get install -y --no-install-recommends libnss-extrausers \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && sed -i -E 's/^(passwd|group):(.*)$/\1:\2 extrausers/' /etc/nsswitch.conf \
 && find / -xdev -perm /6000 -type f -exec chmod ug-s {} +
COPY user-image/start-user-server /usr/local/bin/
ENTRYPOINT ["tini", "--"]
CMD ["start-user-server"]

FROM notebook AS hub
# Bumped by releases (and by the upgrade test): recreating the container on a new image keeps
# every user, file and gradebook.
ARG HUB_VERSION=dev
LABEL org.opencontainers.image.title="teaching-hub" org.opencontainers.image.version="${HUB_VERSION}"
ENV PATH=/opt/venv/bin:/opt/proxy/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# login: the PAM stack for the password form; nodejs: the proxy's runtime. `node` is diverted
# into /opt/proxy/bin: JupyterLab runs node at every start when it finds it on the PATH, and
# user servers' PATH lacks /opt/proxy/bin.
RUN apt-get update \
 && apt-get install -y --no-install-recommends login libpam-modules nodejs \
 && mkdir -p /opt/proxy/bin \
 && dpkg-divert --local --rename --divert /opt/proxy/bin/node /usr/bin/node \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=proxy /opt/proxy/lib /opt/proxy/lib
RUN ln -s ../lib/node_modules/configurable-http-proxy/bin/configurable-http-proxy /opt/proxy/bin/configurable-http-proxy
COPY jupyterhub_config.py /srv/jupyterhub/
# private/: where compose mounts the folder of accounts.csv, out of reach of users' shells.
RUN install -d -m 0700 /srv/jupyterhub/private /srv/jupyterhub/state
WORKDIR /srv/jupyterhub
EXPOSE 8000
# Isolated (-I): root's Python never imports from its working directory or PYTHON* variables.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-I", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/hub/health', timeout=4)"]
ENTRYPOINT ["tini", "--"]
CMD ["hubsetup", "start"]
