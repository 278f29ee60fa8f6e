# JupyterHub configuration: every setting comes from environment variables
# (`hubsetup settings` lists them), applied by the hubsetup package.
import os

from hubsetup import config
from hubsetup.settings import Settings

c = get_config()  # noqa: F821 (provided by JupyterHub)

config.apply(c, Settings.from_env())

# Escape hatch: extra JupyterHub settings of your own, loaded last.
extra = "/srv/jupyterhub/config.d/extra_config.py"
if os.path.exists(extra):
    load_subconfig(extra)  # noqa: F821
