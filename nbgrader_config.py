# nbgrader configuration for every user server and nbgrader command in the hub container.
# The exchange, the course a server works on and hub-aware course lists are set by hubsetup
# from the environment the hub gives each server.
from hubsetup.nbgrader_setup import configure

configure(get_config())  # noqa: F821 (provided by traitlets' config loader)
