"""Settings of every user server (loaded from /etc/jupyter/jupyter_server_config.py)."""

import os

from . import notebook_html
from .factory.forking import KERNEL_SOCKET

#: nbconvert's exporters that cannot work in this image, kept off JupyterLab's export menu:
#: webpdf wants a browser Playwright downloaded (hubsetup.pdf_export prints PDFs instead), qtpdf
#: and qtpng want Qt.
UNUSABLE_EXPORTERS = ("WebPDFExporter", "QtPDFExporter", "QtPNGExporter")

#: Cookie options for pages shown inside an LMS frame (over HTTPS): there the hub's and the
#: servers' cookies are third-party cookies, which browsers send only with these.
FRAMED_COOKIE_OPTIONS = {"samesite": "None", "secure": True}


def cookie_options_for(lms_origins, https_domain):
    """Options for every cookie of the hub and the servers: framed ones, or Secure over HTTPS."""
    if lms_origins:
        return dict(FRAMED_COOKIE_OPTIONS)
    return {"secure": True} if https_domain else {}


def frame_ancestors(env):
    """Who may frame a user server: itself (JupyterLab shows the formgrader in an iframe) and
    the LMS origins the admin listed in LMS_ORIGINS."""
    return " ".join(["'self'", *env.get("LMS_ORIGINS", "").split()])


def configure(c, env=None):
    env = os.environ if env is None else env
    tornado_settings = {"headers": {"Content-Security-Policy": f"frame-ancestors {frame_ancestors(env)}"}}
    cookie_options = cookie_options_for(env.get("LMS_ORIGINS", "").split(), env.get("HTTPS_DOMAIN"))
    if cookie_options:
        # The hub passes its cookie options in JUPYTERHUB_COOKIE_OPTIONS; the server's own
        # XSRF cookie is set here.
        tornado_settings["xsrf_cookie_kwargs"] = cookie_options
    c.ServerApp.tornado_settings = tornado_settings
    # The formgrader builds its exporter from the server's config, not nbgrader's.
    notebook_html.configure(c)
    for exporter in UNUSABLE_EXPORTERS:
        c[exporter].enabled = False
    if os.path.exists(KERNEL_SOCKET):  # the local mode's kernel factory (hubsetup.factory)
        c.KernelProvisionerFactory.default_provisioner_name = "preloaded-kernel"
    # hubsetup's server extensions are enabled in /etc/jupyter/jupyter_server_config.d, as other
    # packages' are: a role's own jpserver_extensions (students') would replace a value set here.
